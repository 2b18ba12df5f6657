"""The staff side: the queue with its filters and SLA flags, assignment, statuses, replies and notes.

Every change writes an audit event with before and after in the same transaction. Only staff who
hold ``support.manage`` can be assigned a ticket. A staff reply is mailed to the client; a note
never is, and the client never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.audit.service import Actor, record_audit
from core.identity.models import User
from core.identity.roles import staff_holding
from core.settings import Settings
from support import sla
from support.errors import InvalidTicketInputError, TicketNotFoundError
from support.mailing import MailQueue, mail_staff_reply
from support.models import (
    OPEN_STATUSES,
    CannedReply,
    MessageKind,
    MessageSource,
    SupportTicket,
    TicketCategory,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from support.tickets import AUDIT_TARGET, Thread, add_message, clean_body, load_thread

MANAGE_PERMISSION = "support.manage"
ASSIGNEE_ANY = ""
ASSIGNEE_ME = "me"
ASSIGNEE_NONE = "none"
STATUS_ACTIVE = "active"
"""The queue's default filter: new, open and waiting on the client."""


@dataclass(frozen=True)
class QueueFilter:
    """``status``: a status, ``"active"`` (the default) or ``""`` for all; ``priority`` and
    ``category`` a value or ``""``; ``assignee`` ``""`` anyone, ``"me"``, ``"none"`` or a staff id;
    ``breached`` only tickets whose SLA is breached."""

    status: str = STATUS_ACTIVE
    priority: str = ""
    category: str = ""
    assignee: str = ASSIGNEE_ANY
    breached: bool = False


def parse_filter(query: dict[str, str]) -> QueueFilter:
    """The filters from a query string; an unknown value means "no filter", never an error."""
    status = query.get("status", STATUS_ACTIVE)
    priority = query.get("priority", "")
    category = query.get("category", "")
    assignee = (query.get("assignee") or "").strip()
    return QueueFilter(
        status=status if status in {STATUS_ACTIVE, *TicketStatus} else "",
        priority=priority if priority in set(TicketPriority) else "",
        category=category if category in set(TicketCategory) else "",
        assignee=assignee
        if assignee in {ASSIGNEE_ME, ASSIGNEE_NONE} or (assignee.isdigit() and len(assignee) < 19)
        else ASSIGNEE_ANY,
        breached=query.get("breached", "") == "1",
    )


def _filtered(query: Any, filters: QueueFilter, me_id: int, now: datetime) -> Any:
    if filters.status == STATUS_ACTIVE:
        query = query.where(SupportTicket.status.in_([s.value for s in OPEN_STATUSES]))
    elif filters.status:
        query = query.where(SupportTicket.status == filters.status)
    if filters.priority:
        query = query.where(SupportTicket.priority == filters.priority)
    if filters.category:
        query = query.where(SupportTicket.category == filters.category)
    if filters.assignee == ASSIGNEE_ME:
        query = query.where(SupportTicket.assignee_id == me_id)
    elif filters.assignee == ASSIGNEE_NONE:
        query = query.where(SupportTicket.assignee_id.is_(None))
    elif filters.assignee.isdigit():
        query = query.where(SupportTicket.assignee_id == int(filters.assignee))
    if filters.breached:
        open_values = [s.value for s in OPEN_STATUSES]
        query = query.where(
            or_(
                SupportTicket.first_response_breached_at.is_not(None),
                SupportTicket.resolution_breached_at.is_not(None),
                SupportTicket.first_response_at.is_(None)
                & SupportTicket.status.in_(open_values)
                & (SupportTicket.first_response_due_at < now),
                (SupportTicket.status.in_(open_values)) & (SupportTicket.resolution_due_at < now),
            )
        )
    return query


@dataclass(frozen=True)
class QueueRow:
    ticket: SupportTicket
    client_email: str
    assignee_email: str | None
    sla: sla.SlaState


async def list_queue(
    session: AsyncSession, filters: QueueFilter, *, me_id: int, now: datetime, limit: int, offset: int
) -> list[QueueRow]:
    """Oldest first response due first: what is closest to (or past) its SLA is on top."""
    client, assignee = aliased(User), aliased(User)
    query = (
        select(SupportTicket, client.email, assignee.email)
        .join(client, client.id == SupportTicket.client_id)
        .outerjoin(assignee, assignee.id == SupportTicket.assignee_id)
    )
    query = _filtered(query, filters, me_id, now).order_by(SupportTicket.resolution_due_at, SupportTicket.id)
    rows = await session.execute(query.limit(limit).offset(offset))
    return [
        QueueRow(ticket=ticket, client_email=email, assignee_email=staff, sla=sla.sla_state(ticket, now))
        for ticket, email, staff in rows
    ]


async def count_queue(session: AsyncSession, filters: QueueFilter, *, me_id: int, now: datetime) -> int:
    query = _filtered(select(func.count(SupportTicket.id)), filters, me_id, now)
    return int(await session.scalar(query) or 0)


async def assignable_staff(session: AsyncSession) -> list[tuple[int, str]]:
    return await staff_holding(session, MANAGE_PERMISSION)


async def ticket_for_staff(session: AsyncSession, ticket_id: int) -> SupportTicket:
    ticket = await session.get(SupportTicket, ticket_id)
    if ticket is None:
        raise TicketNotFoundError("No such ticket.")
    return ticket


async def staff_thread(session: AsyncSession, ticket_id: int) -> Thread:
    return await load_thread(session, await ticket_for_staff(session, ticket_id), include_notes=True)


async def assign(
    session: AsyncSession, ticket_id: int, assignee_id: int | None, actor: Actor, now: datetime
) -> SupportTicket:
    ticket = await ticket_for_staff(session, ticket_id)
    if assignee_id is not None and assignee_id not in {sid for sid, _ in await assignable_staff(session)}:
        raise InvalidTicketInputError("assignee", "Choose a staff member who handles support tickets.")
    before = ticket.assignee_id
    if before == assignee_id:
        return ticket
    ticket.assignee_id, ticket.updated_at = assignee_id, now
    await session.flush()
    await record_audit(
        session,
        actor,
        "support.ticket_assigned",
        target_type=AUDIT_TARGET,
        target_id=ticket.id,
        before={"assignee": before},
        after={"assignee": assignee_id},
    )
    return ticket


def _apply_status(ticket: SupportTicket, status: str, now: datetime) -> None:
    ticket.status = status
    if status == TicketStatus.RESOLVED.value:
        ticket.resolved_at = ticket.resolved_at or now
    elif status == TicketStatus.CLOSED.value:
        ticket.closed_at = ticket.closed_at or now
    else:
        ticket.resolved_at, ticket.closed_at = None, None
    ticket.updated_at = now


async def set_status(
    session: AsyncSession, ticket_id: int, status: str, actor: Actor, now: datetime
) -> SupportTicket:
    if status not in set(TicketStatus):
        raise InvalidTicketInputError("status", "Choose a status.")
    ticket = await ticket_for_staff(session, ticket_id)
    before = ticket.status
    if before == status:
        return ticket
    _apply_status(ticket, status, now)
    await session.flush()
    await record_audit(
        session,
        actor,
        "support.status_changed",
        target_type=AUDIT_TARGET,
        target_id=ticket.id,
        before={"status": before},
        after={"status": status},
    )
    return ticket


async def canned_body(session: AsyncSession, canned_id: str) -> str:
    """The text of an active canned reply picked in the reply form (``""`` picks none)."""
    if not canned_id:
        return ""
    row = (
        await session.get(CannedReply, int(canned_id))
        if canned_id.isdigit() and len(canned_id) < 19
        else None
    )
    if row is None or not row.active:
        raise InvalidTicketInputError("canned", "Choose one of the canned replies.")
    return row.body


async def staff_reply(
    session: AsyncSession,
    ticket_id: int,
    *,
    body: str,
    status: str,
    actor: Actor,
    queue_mail: MailQueue,
    settings: Settings,
    now: datetime,
) -> TicketMessage:
    """A reply the client sees and is mailed; stops the first-response clock. The ticket then waits
    on the client unless staff chose another status (resolved, say)."""
    ticket = await ticket_for_staff(session, ticket_id)
    text = clean_body(body)
    status = status or TicketStatus.WAITING_ON_CLIENT.value
    if status not in set(TicketStatus):
        raise InvalidTicketInputError("status", "Choose a status.")
    client = await session.get(User, ticket.client_id)
    assert client is not None  # a ticket's client is a foreign key
    message = await _staff_message(session, ticket, MessageKind.STAFF, text, actor, now)
    before = {"status": ticket.status, "first_response_at": ticket.first_response_at}
    ticket.first_response_at = ticket.first_response_at or now
    _apply_status(ticket, status, now)
    await mail_staff_reply(session, queue_mail, settings, ticket, client, text)
    await record_audit(
        session,
        actor,
        "support.staff_replied",
        target_type=AUDIT_TARGET,
        target_id=ticket.id,
        before=before,
        after={"status": ticket.status, "first_response_at": ticket.first_response_at, "message": message.id},
    )
    return message


async def add_note(
    session: AsyncSession, ticket_id: int, *, body: str, actor: Actor, now: datetime
) -> TicketMessage:
    """An internal note: staff only, never mailed, and the SLA clock keeps running."""
    ticket = await ticket_for_staff(session, ticket_id)
    text = clean_body(body)
    message = await _staff_message(session, ticket, MessageKind.NOTE, text, actor, now)
    await record_audit(
        session,
        actor,
        "support.note_added",
        target_type=AUDIT_TARGET,
        target_id=ticket.id,
        after={"message": message.id, "length": len(text)},
    )
    return message


async def _staff_message(
    session: AsyncSession, ticket: SupportTicket, kind: MessageKind, text: str, actor: Actor, now: datetime
) -> TicketMessage:
    """A staff reply or note (staff attach no files)."""
    if actor.id is None:
        raise InvalidTicketInputError("author", "Only a signed-in staff member can write on a ticket.")
    return await add_message(
        session,
        None,
        ticket,
        author_id=actor.id,
        kind=kind,
        source=MessageSource.BACKOFFICE,
        body=text,
        upload=None,
        max_bytes=0,
        now=now,
    )


async def tickets_of_client(
    session: AsyncSession, client_id: int, now: datetime, limit: int = 20
) -> list[QueueRow]:
    """A client's latest tickets for the 360 page, with their SLA flags."""
    assignee = aliased(User)
    rows = await session.execute(
        select(SupportTicket, assignee.email)
        .outerjoin(assignee, assignee.id == SupportTicket.assignee_id)
        .where(SupportTicket.client_id == client_id)
        .order_by(SupportTicket.updated_at.desc(), SupportTicket.id.desc())
        .limit(limit)
    )
    return [QueueRow(ticket=t, client_email="", assignee_email=e, sla=sla.sla_state(t, now)) for t, e in rows]
