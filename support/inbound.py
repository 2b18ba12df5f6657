"""Threading a client's mailed reply back into their ticket.

The mail must be addressed to the ticket's Reply-To address (id and random token both right, on
our reply domain), come from the ticket's owner, and say something once the quoted history is
taken out. A mail is threaded once per Message-ID, so a mail server that delivers it again adds
nothing. Each refusal carries the SMTP answer the inbound server gives back.
"""

from __future__ import annotations

import hashlib
import hmac
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.audit.service import Actor
from core.identity.models import User
from support.errors import InboundMailRefusedError, InvalidTicketInputError, TicketStateError
from support.mailing import ReplyAddress, parse_reply_address
from support.models import MessageSource, SupportTicket, TicketMessage
from support.quoting import strip_quoted, text_of_html
from support.tickets import client_reply

UNKNOWN_ADDRESS = "550 5.1.1 No such ticket address"
NOT_OWNER = "550 5.7.1 The sender is not the owner of this ticket"
EMPTY_REPLY = "550 5.6.0 The reply is empty once the quoted text is removed"
TICKET_CLOSED = "550 5.7.0 This ticket is closed; reopen it in the portal to write again"
MESSAGE_ID_LIMIT = 300


def ticket_recipient(recipients: list[str], domain: str) -> ReplyAddress | None:
    """The first recipient that is a ticket address on our reply domain."""
    for recipient in recipients:
        parsed = parse_reply_address(recipient)
        if parsed is not None and parsed.domain == domain:
            return parsed
    return None


async def addressed_ticket(session: AsyncSession, address: ReplyAddress) -> SupportTicket | None:
    """The ticket an address names, when its token is that ticket's (compared in constant time)."""
    ticket = await session.get(SupportTicket, address.ticket_id)
    if ticket is None or not hmac.compare_digest(ticket.reply_token.encode(), address.token.encode()):
        return None
    return ticket


def message_id_of(message: EmailMessage, raw: bytes) -> str:
    """The mail's Message-ID, or a digest of its bytes when it has none (still one per mail)."""
    value = str(message.get("Message-ID", "") or "").strip()
    if value:
        return value[:MESSAGE_ID_LIMIT]
    return "<sha256-" + hashlib.sha256(raw).hexdigest() + "@inbound>"


def reply_text(message: EmailMessage) -> str:
    """The plain-text part, else the HTML part's text; the quoted history removed."""
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        return strip_quoted(cast(EmailMessage, part).get_content())
    part = message.get_body(preferencelist=("html",))
    if part is not None:
        return strip_quoted(text_of_html(cast(EmailMessage, part).get_content()))
    return ""


def sender_address(message: EmailMessage) -> str:
    addresses = getaddresses([str(value) for value in message.get_all("From", [])])
    return addresses[0][1].strip().lower() if len(addresses) == 1 else ""


async def receive_reply(
    session: AsyncSession, *, recipients: list[str], raw: bytes, domain: str
) -> TicketMessage:
    """Thread one inbound mail; returns its message (the earlier one for a mail seen before)."""
    address = ticket_recipient(recipients, domain)
    if address is None:
        raise InboundMailRefusedError(UNKNOWN_ADDRESS)
    ticket = await addressed_ticket(session, address)
    if ticket is None:
        raise InboundMailRefusedError(UNKNOWN_ADDRESS)
    message = BytesParser(policy=policy.default).parsebytes(raw)
    message_id = message_id_of(message, raw)
    seen = await session.scalar(select(TicketMessage).where(TicketMessage.mail_message_id == message_id))
    if seen is not None:
        return seen
    client = await session.get(User, ticket.client_id)
    if client is None or sender_address(message) != client.email.lower():
        raise InboundMailRefusedError(NOT_OWNER)
    text = reply_text(message)
    if not text:
        raise InboundMailRefusedError(EMPTY_REPLY)
    try:
        return await client_reply(
            session,
            None,
            ticket.id,
            client_id=client.id,
            body=text,
            upload=None,
            max_bytes=0,
            source=MessageSource.MAIL,
            actor=Actor(id=client.id, email=client.email, kind="client"),
            now=clock.utcnow(),
            mail_message_id=message_id,
        )
    except InvalidTicketInputError as exc:
        raise InboundMailRefusedError(f"550 5.3.4 {exc.message}") from None
    except TicketStateError:
        raise InboundMailRefusedError(TICKET_CLOSED) from None
