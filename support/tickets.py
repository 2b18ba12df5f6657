"""Tickets from the client's side: open one, follow its conversation, reply, close and reopen.

A client sees only their own tickets and never an internal note; any other id is "not found",
so ids reveal nothing. Every change is an audit event in the same transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor, record_audit
from core.identity.models import User
from core.storage import EncryptedFileStore
from support import sla
from support.attachments import Upload, check_upload, store_upload
from support.errors import InvalidTicketInputError, TicketNotFoundError, TicketStateError
from support.models import (
    MessageKind,
    MessageSource,
    SupportTicket,
    TicketAttachment,
    TicketCategory,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)

SUBJECT_LIMIT = 200
BODY_LIMIT = 20_000
AUDIT_TARGET = "support_ticket"


def new_reply_token() -> str:
    return secrets.token_hex(16)


def clean_body(body: str) -> str:
    """The message text, stripped; empty or over :data:`BODY_LIMIT` characters is refused."""
    text = body.replace("\x00", "").replace("\r\n", "\n").strip()
    if not text:
        raise InvalidTicketInputError("message", "Write a message.")
    if len(text) > BODY_LIMIT:
        raise InvalidTicketInputError("message", f"A message has at most {BODY_LIMIT} characters.")
    return text


def clean_subject(subject: str) -> str:
    text = " ".join(subject.replace("\x00", "").split())
    if not text:
        raise InvalidTicketInputError("subject", "Enter a subject.")
    if len(text) > SUBJECT_LIMIT:
        raise InvalidTicketInputError("subject", f"A subject has at most {SUBJECT_LIMIT} characters.")
    return text


def parse_choice(value: str, choices: type[TicketCategory] | type[TicketPriority], field: str) -> str:
    try:
        return choices(value.strip()).value
    except ValueError:
        message = "Choose a category." if field == "category" else "Choose a priority."
        raise InvalidTicketInputError(field, message) from None


async def add_message(
    session: AsyncSession,
    store: EncryptedFileStore | None,
    ticket: SupportTicket,
    *,
    author_id: int,
    kind: MessageKind,
    source: MessageSource,
    body: str,
    upload: Upload | None,
    max_bytes: int,
    now: datetime,
    mail_message_id: str | None = None,
) -> TicketMessage:
    """Append a message (its attachment checked first, so a refused file writes nothing)."""
    checked = check_upload(upload, max_bytes) if upload is not None else None
    message = TicketMessage(
        ticket_id=ticket.id,
        author_id=author_id,
        kind=kind.value,
        source=source.value,
        body=body,
        mail_message_id=mail_message_id,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    if checked is not None and store is not None:
        stored = store_upload(store, checked)
        session.add(
            TicketAttachment(
                ticket_id=ticket.id,
                message_id=message.id,
                content_type=checked.content_type,
                size_bytes=stored.size,
                sha256=stored.sha256,
                storage_key=stored.key,
                original_name=checked.filename,
                created_at=now,
            )
        )
    ticket.updated_at = now
    await session.flush()
    return message


async def open_ticket(
    session: AsyncSession,
    store: EncryptedFileStore | None,
    *,
    client_id: int,
    category: str,
    priority: str,
    subject: str,
    body: str,
    upload: Upload | None,
    max_bytes: int,
    source: MessageSource,
    actor: Actor,
    now: datetime,
) -> SupportTicket:
    """A new ticket with its first message; its SLA due times come from today's targets."""
    category = parse_choice(category, TicketCategory, "category")
    priority = parse_choice(priority, TicketPriority, "priority")
    subject = clean_subject(subject)
    text = clean_body(body)
    if upload is not None:
        check_upload(upload, max_bytes)
    target = (await sla.load_targets(session))[priority]
    first_due, resolution_due = sla.due_times(target, now)
    ticket = SupportTicket(
        client_id=client_id,
        category=category,
        priority=priority,
        subject=subject,
        status=TicketStatus.NEW.value,
        reply_token=new_reply_token(),
        created_at=now,
        updated_at=now,
        first_response_due_at=first_due,
        resolution_due_at=resolution_due,
    )
    session.add(ticket)
    await session.flush()
    await add_message(
        session,
        store,
        ticket,
        author_id=client_id,
        kind=MessageKind.CLIENT,
        source=source,
        body=text,
        upload=upload,
        max_bytes=max_bytes,
        now=now,
    )
    await record_audit(
        session,
        actor,
        "support.ticket_opened",
        target_type=AUDIT_TARGET,
        target_id=ticket.id,
        after={"category": category, "priority": priority, "subject": subject, "source": source.value},
    )
    return ticket


async def owned_ticket(session: AsyncSession, ticket_id: int, client_id: int) -> SupportTicket:
    ticket = await session.get(SupportTicket, ticket_id)
    if ticket is None or ticket.client_id != client_id:
        raise TicketNotFoundError("No such ticket.")
    return ticket


async def client_reply(
    session: AsyncSession,
    store: EncryptedFileStore | None,
    ticket_id: int,
    *,
    client_id: int,
    body: str,
    upload: Upload | None,
    max_bytes: int,
    source: MessageSource,
    actor: Actor,
    now: datetime,
    mail_message_id: str | None = None,
) -> TicketMessage:
    """The client writes again: the ticket goes back to staff (``open``), unless it was closed."""
    ticket = await owned_ticket(session, ticket_id, client_id)
    text = clean_body(body)
    if ticket.status == TicketStatus.CLOSED.value:
        raise TicketStateError("This ticket is closed. Reopen it to write again.")
    message = await add_message(
        session,
        store,
        ticket,
        author_id=client_id,
        kind=MessageKind.CLIENT,
        source=source,
        body=text,
        upload=upload,
        max_bytes=max_bytes,
        now=now,
        mail_message_id=mail_message_id,
    )
    before = ticket.status
    if ticket.status != TicketStatus.NEW.value:
        ticket.status = TicketStatus.OPEN.value
        ticket.resolved_at = None
    await record_audit(
        session,
        actor,
        "support.client_replied",
        target_type=AUDIT_TARGET,
        target_id=ticket.id,
        before={"status": before},
        after={"status": ticket.status, "message": message.id, "source": source.value},
    )
    return message


async def client_set_open(
    session: AsyncSession, ticket_id: int, *, client_id: int, open_it: bool, actor: Actor, now: datetime
) -> SupportTicket:
    """The client closes their ticket, or reopens a resolved or closed one."""
    ticket = await owned_ticket(session, ticket_id, client_id)
    before = ticket.status
    if open_it:
        if before not in (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value):
            raise TicketStateError("This ticket is already open.")
        ticket.status, ticket.resolved_at, ticket.closed_at = TicketStatus.OPEN.value, None, None
    else:
        if before == TicketStatus.CLOSED.value:
            raise TicketStateError("This ticket is already closed.")
        ticket.status, ticket.closed_at = TicketStatus.CLOSED.value, now
    ticket.updated_at = now
    await session.flush()
    await record_audit(
        session,
        actor,
        "support.ticket_reopened" if open_it else "support.ticket_closed",
        target_type=AUDIT_TARGET,
        target_id=ticket.id,
        before={"status": before},
        after={"status": ticket.status},
    )
    return ticket


@dataclass(frozen=True)
class TicketSummary:
    ticket: SupportTicket
    messages: int


async def client_tickets(session: AsyncSession, client_id: int, limit: int = 200) -> list[TicketSummary]:
    """The client's tickets, most recently active first, with how many messages they can see."""
    visible = (
        select(func.count(TicketMessage.id))
        .where(TicketMessage.ticket_id == SupportTicket.id, TicketMessage.kind != MessageKind.NOTE.value)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(SupportTicket, visible)
        .where(SupportTicket.client_id == client_id)
        .order_by(SupportTicket.updated_at.desc(), SupportTicket.id.desc())
        .limit(limit)
    )
    return [TicketSummary(ticket=ticket, messages=int(count or 0)) for ticket, count in rows]


@dataclass(frozen=True)
class ThreadMessage:
    message: TicketMessage
    author_email: str
    attachments: list[TicketAttachment] = field(default_factory=list)


@dataclass(frozen=True)
class Thread:
    ticket: SupportTicket
    messages: list[ThreadMessage]


async def load_thread(session: AsyncSession, ticket: SupportTicket, *, include_notes: bool) -> Thread:
    query = (
        select(TicketMessage, User.email)
        .join(User, User.id == TicketMessage.author_id)
        .where(TicketMessage.ticket_id == ticket.id)
        .order_by(TicketMessage.created_at, TicketMessage.id)
    )
    if not include_notes:
        query = query.where(TicketMessage.kind != MessageKind.NOTE.value)
    rows = list(await session.execute(query))
    files = await session.scalars(
        select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id).order_by(TicketAttachment.id)
    )
    by_message: dict[int, list[TicketAttachment]] = {}
    for attachment in files:
        by_message.setdefault(attachment.message_id, []).append(attachment)
    return Thread(
        ticket=ticket,
        messages=[ThreadMessage(message, email, by_message.get(message.id, [])) for message, email in rows],
    )


async def client_thread(session: AsyncSession, ticket_id: int, client_id: int) -> Thread:
    return await load_thread(session, await owned_ticket(session, ticket_id, client_id), include_notes=False)


async def read_attachment(
    session: AsyncSession,
    store: EncryptedFileStore,
    ticket_id: int,
    attachment_id: int,
    *,
    client_id: int | None,
) -> tuple[TicketAttachment, bytes]:
    """An attachment of ``ticket_id``; a client (``client_id``) only of their own ticket and never of a
    note; staff (``client_id=None``) any. Anything else is not found."""
    attachment = await session.get(TicketAttachment, attachment_id)
    if attachment is None or attachment.ticket_id != ticket_id:
        raise TicketNotFoundError("No such attachment.")
    if client_id is not None:
        await owned_ticket(session, ticket_id, client_id)
        message = await session.get(TicketMessage, attachment.message_id)
        if message is None or message.kind == MessageKind.NOTE.value:
            raise TicketNotFoundError("No such attachment.")
    return attachment, store.get(attachment.storage_key)
