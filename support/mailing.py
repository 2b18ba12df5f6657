"""Mailed replies: each ticket's Reply-To address, and the mail a staff reply sends the client.

The address is ``support+<ticket id>.<token>@<domain>``: the token is random per ticket and kept
on it, so an address can be neither guessed nor made up for another ticket; the inbound server
(:mod:`support.inbound`) threads a reply only when both parts match.

Rendering mail needs a template engine, which the domain packages do not import, so the apps pass
the outbox's ``queue_mail`` in (:class:`MailQueue`), as they do for kyc and crm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.models import User
from core.settings import Settings
from support.models import SupportTicket

REPLY_MAIL = "support_reply"
LOCAL_PREFIX = "support"
REPLY_MARKER = "-- Reply above this line --"
"""The first line of every support mail: a mailed answer is cut there (see :mod:`support.quoting`)."""
_ADDRESS = re.compile(r"^support\+(\d{1,18})\.([0-9a-f]{32})@(.+)$")


class MailQueue(Protocol):
    """``core.mail.outbox.queue_mail``: renders a mail into the outbox, sent after the commit."""

    async def __call__(
        self,
        session: AsyncSession,
        to: str,
        template: str,
        language: str,
        context: dict[str, Any],
        *,
        holds_secret: bool = False,
        reply_to: str = "",
    ) -> object: ...


def reply_domain(settings: Settings) -> str:
    """``BROKERDESK_SUPPORT_REPLY_DOMAIN``, else the domain of the From address."""
    if settings.support_reply_domain:
        return settings.support_reply_domain.strip().lower()
    _name, address = parseaddr(settings.mail_from)
    return address.rpartition("@")[2].lower() or "localhost"


def reply_address(ticket: SupportTicket, domain: str) -> str:
    return f"{LOCAL_PREFIX}+{ticket.id}.{ticket.reply_token}@{domain}"


@dataclass(frozen=True)
class ReplyAddress:
    ticket_id: int
    token: str
    domain: str


def parse_reply_address(address: str) -> ReplyAddress | None:
    """The ticket id and token an address names, or ``None`` when it is not a ticket address."""
    match = _ADDRESS.match(address.strip().lower())
    if match is None:
        return None
    return ReplyAddress(ticket_id=int(match.group(1)), token=match.group(2), domain=match.group(3))


async def mail_staff_reply(
    session: AsyncSession,
    queue_mail: MailQueue,
    settings: Settings,
    ticket: SupportTicket,
    client: User,
    body: str,
) -> None:
    """The reply in the client's language, answerable by mail through the ticket's address."""
    await queue_mail(
        session,
        client.email,
        REPLY_MAIL,
        client.language,
        {
            "ticket_id": ticket.id,
            "ticket_subject": ticket.subject,
            "body": body,
            "marker": REPLY_MARKER,
            "link": f"{settings.public_portal_url}/support/{ticket.id}",
        },
        reply_to=reply_address(ticket, reply_domain(settings)),
    )
