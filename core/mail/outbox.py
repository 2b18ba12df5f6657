"""Queueing mail: render, store in the outbox, and send after the transaction commits."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.company import load_company
from core.i18n.catalogs import DEFAULT_LANGUAGE, LANGUAGES
from core.jobs import enqueue_after_commit
from core.mail.models import QUEUED, OutboxMail
from core.mail.overrides import load_override, sources_of
from core.mail.templates import MailTemplateError, RenderedMail, render_mail

logger = logging.getLogger(__name__)

SEND_MAIL_ACTOR = "core.send_mail"


async def queue_mail(
    session: AsyncSession,
    to: str,
    template: str,
    language: str,
    context: dict[str, Any],
    *,
    holds_secret: bool = False,
    reply_to: str = "",
) -> OutboxMail:
    """Add a rendered mail to the outbox; the ``core.send_mail`` job leaves only on commit.
    ``holds_secret``: blank the stored bodies once the mail is sent (see :class:`OutboxMail`).
    ``reply_to``: the Reply-To address (a support ticket's threading address), if any.

    Staff's override of the template in that language is preferred over the file; every mail
    also carries the company details (``company``) for its footer."""
    rendered = await render_for(session, template, language, context)
    mail = OutboxMail(
        to_address=to,
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
        template=template,
        language=language,
        status=QUEUED,
        created_at=clock.utcnow(),
        holds_secret=holds_secret,
        reply_to=reply_to,
    )
    session.add(mail)
    await session.flush()
    enqueue_after_commit(session, SEND_MAIL_ACTOR, mail.id)
    return mail


async def render_for(
    session: AsyncSession, template: str, language: str, context: dict[str, Any]
) -> RenderedMail:
    """The override when there is one and it renders; otherwise the file template (a broken
    override must not stop a password-reset mail, so that failure is logged, not raised)."""
    full = {"company": (await load_company(session)).as_json(), **context}
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    row = await load_override(session, template, language)
    if row is not None:
        try:
            return render_mail(template, language, full, sources_of(row))
        except MailTemplateError as exc:
            logger.warning(
                "mail template override %s/%s failed (%s); using the file template", template, language, exc
            )
    return render_mail(template, language, full)
