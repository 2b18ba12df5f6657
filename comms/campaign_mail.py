"""One recipient's campaign mail: the staff's template rendered in the client's language, links
made into click redirects, the open pixel, the unsubscribe footer and the List-Unsubscribe headers.

Rendering uses the mail sandbox of :mod:`core.mail.templates`, which a domain package may not
import (it brings the template engine), so the apps and the worker pass it in as
:class:`RenderParts`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

from comms.campaign_links import URL, RecipientLinks, rewrite
from comms.campaign_models import Campaign

ZH = "zh_Hans"
EN = "en"
FOOTER = {
    EN: ("You receive this because you are a client of {company}.", "Unsubscribe from marketing mail"),
    ZH: ("您收到此邮件是因为您是{company}的客户。", "退订营销邮件"),
}


class RenderedParts(Protocol):
    @property
    def subject(self) -> str: ...

    @property
    def text(self) -> str: ...


class RenderParts(Protocol):
    """``core.mail.templates.render_strings``: renders subject, text and HTML sources in the mail
    sandbox; raises a :class:`core.errors.CoreError` naming the part and line of a problem."""

    def __call__(self, subject: str, text: str, html: str, context: dict[str, Any]) -> RenderedParts: ...


@dataclass(frozen=True)
class CampaignMail:
    subject: str
    text: str
    html: str
    unsubscribe_url: str
    language: str


def language_for(campaign: Campaign, client_language: str) -> str:
    """Chinese for a client who reads Chinese when the campaign has a Chinese version; else English."""
    return ZH if client_language == ZH and campaign.subject_zh_hans.strip() else EN


def sources_for(campaign: Campaign, language: str) -> tuple[str, str]:
    if language == ZH:
        return campaign.subject_zh_hans, campaign.body_zh_hans
    return campaign.subject_en, campaign.body_en


def context_for(display_name: str, email: str, company: dict[str, str]) -> dict[str, Any]:
    """The names a campaign template may use."""
    return {"client": {"name": display_name or email.split("@")[0], "email": email}, "company": company}


def _paragraphs(text: str, click_url: dict[str, str]) -> str:
    """Plain text as HTML: escaped, blank lines as paragraphs, links clickable (tracked)."""

    def link(match: re.Match[str]) -> str:
        url = html.unescape(match.group(0)).rstrip(".,;:!?)]")
        tail = match.group(0)[len(html.escape(url, quote=False)) :]
        target = click_url.get(url, url)
        return f'<a href="{html.escape(target)}">{html.escape(url)}</a>{tail}'

    blocks = [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    out = []
    for block in blocks:
        escaped = html.escape(block, quote=False)
        out.append("<p>" + URL.sub(link, escaped).replace("\n", "<br>\n") + "</p>")
    return "\n".join(out)


def compose(
    campaign: Campaign,
    render: RenderParts,
    links: RecipientLinks,
    language: str,
    context: dict[str, Any],
) -> CampaignMail:
    """The mail for one recipient; the template's errors propagate (checked when it was saved)."""
    subject_source, body_source = sources_for(campaign, language)
    rendered = render(subject_source, body_source, "", context)
    click_url = {url: links.click(index) for index, url in enumerate(campaign.links)}
    why, unsubscribe_label = FOOTER[language]
    company_name = str(context.get("company", {}).get("name", "") or "BrokerDesk")
    why = why.format(company=company_name)
    text = (
        rewrite(rendered.text, list(campaign.links), click_url).rstrip()
        + f"\n\n--\n{why}\n{unsubscribe_label}: {links.unsubscribe}\n"
    )
    body_html = (
        f'<!DOCTYPE html>\n<html lang="{"zh-Hans" if language == ZH else "en"}">'
        f'<head><meta charset="utf-8"><title>{html.escape(rendered.subject)}</title></head>\n<body>\n'
        f"{_paragraphs(rendered.text, click_url)}\n"
        f'<hr>\n<p><small>{html.escape(why)} <a href="{html.escape(links.unsubscribe)}">'
        f"{html.escape(unsubscribe_label)}</a></small></p>\n"
        f'<img src="{html.escape(links.open_pixel)}" width="1" height="1" alt="">\n</body>\n</html>\n'
    )
    return CampaignMail(rendered.subject, text, body_html, links.unsubscribe, language)


def build_message(mail: CampaignMail, sender: str, to: str, recipient_id: int) -> EmailMessage:
    """The MIME message, with RFC 8058 one-click unsubscribe headers."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(idstring=f"campaign-recipient-{recipient_id}", domain="brokerdesk")
    message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Precedence"] = "bulk"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message
