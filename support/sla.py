"""The SLA clock: first-response and resolution targets per priority, and breaches against them.

Targets default to :data:`DEFAULT_TARGETS`; staff override them per priority in
``support_sla_targets``. A ticket takes its due times when it is opened, so a later change of the
targets applies to new tickets only (a promise made to a client is not rewritten). The queue flags
a breach as soon as a due time has passed; the scheduled ``support.mark_sla_breaches`` job records
it on the ticket (once) with an audit event, so reports and filters can rely on the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.audit.service import SYSTEM, Actor, record_audit
from support.errors import InvalidTicketInputError
from support.models import OPEN_STATUSES, SlaTarget, SupportTicket, TicketPriority

MAX_MINUTES = 60 * 24 * 365


@dataclass(frozen=True)
class Target:
    """Minutes to the first staff reply and to resolution, for one priority."""

    first_response_minutes: int
    resolution_minutes: int


DEFAULT_TARGETS: dict[str, Target] = {
    TicketPriority.URGENT.value: Target(60, 8 * 60),
    TicketPriority.HIGH.value: Target(4 * 60, 24 * 60),
    TicketPriority.NORMAL.value: Target(8 * 60, 3 * 24 * 60),
    TicketPriority.LOW.value: Target(24 * 60, 7 * 24 * 60),
}


async def load_targets(session: AsyncSession) -> dict[str, Target]:
    targets = dict(DEFAULT_TARGETS)
    for row in await session.scalars(select(SlaTarget)):
        targets[row.priority] = Target(row.first_response_minutes, row.resolution_minutes)
    return targets


def parse_targets(values: dict[str, str]) -> dict[str, Target]:
    """``{"<priority>_first_response": "60", "<priority>_resolution": "480", ...}`` to targets;
    anything but whole minutes in range, or a resolution sooner than the first response, is refused."""
    parsed: dict[str, Target] = {}
    for priority in TicketPriority:
        minutes = []
        for part in ("first_response", "resolution"):
            field = f"{priority.value}_{part}"
            raw = str(values.get(field, "")).strip()
            if not raw.isdigit() or not 0 < int(raw) <= MAX_MINUTES:
                raise InvalidTicketInputError(field, "Enter whole minutes between 1 and 525600.")
            minutes.append(int(raw))
        if minutes[1] < minutes[0]:
            raise InvalidTicketInputError(
                f"{priority.value}_resolution",
                "The resolution target can't be sooner than the first response.",
            )
        parsed[priority.value] = Target(minutes[0], minutes[1])
    return parsed


async def save_targets(session: AsyncSession, values: dict[str, str], actor: Actor) -> dict[str, Target]:
    """Store the targets of every priority; audited with before and after when something changed."""
    after = parse_targets(values)
    before = await load_targets(session)
    if after == before:
        return after
    now = clock.utcnow()
    for priority, target in after.items():
        row = await session.get(SlaTarget, priority)
        if row is None:
            row = SlaTarget(priority=priority, updated_at=now)
            session.add(row)
        row.first_response_minutes = target.first_response_minutes
        row.resolution_minutes = target.resolution_minutes
        row.updated_by, row.updated_at = actor.id, now
    await session.flush()
    await record_audit(
        session,
        actor,
        "support.sla_changed",
        target_type="support_sla",
        target_id="targets",
        before={p: vars(t) for p, t in before.items() if after[p] != t},
        after={p: vars(t) for p, t in after.items() if before[p] != t},
    )
    return after


def due_times(target: Target, opened_at: datetime) -> tuple[datetime, datetime]:
    return (
        opened_at + timedelta(minutes=target.first_response_minutes),
        opened_at + timedelta(minutes=target.resolution_minutes),
    )


@dataclass(frozen=True)
class SlaState:
    """What the queue shows about one ticket's clock."""

    first_response_breached: bool
    resolution_breached: bool

    @property
    def breached(self) -> bool:
        return self.first_response_breached or self.resolution_breached


def sla_state(ticket: SupportTicket, now: datetime) -> SlaState:
    """Breached when recorded, or when a due time has passed with the answer still missing (a ticket
    the client closed before anyone answered is not late for an answer)."""
    first_due = clock.as_utc(ticket.first_response_due_at)
    resolution_due = clock.as_utc(ticket.resolution_due_at)
    responded = ticket.first_response_at
    still_open = ticket.status in {status.value for status in OPEN_STATUSES}
    first = ticket.first_response_breached_at is not None or (
        clock.as_utc(responded) > first_due if responded else still_open and now > first_due
    )
    resolved = ticket.resolved_at or ticket.closed_at
    resolution = ticket.resolution_breached_at is not None or (
        clock.as_utc(resolved) > resolution_due if resolved else now > resolution_due
    )
    return SlaState(first_response_breached=first, resolution_breached=resolution)


async def mark_breaches(session: AsyncSession, now: datetime) -> list[tuple[int, str]]:
    """Record each breach once (a conditional UPDATE, so two runs at once mark it once between them)
    and audit it as the system; returns ``(ticket id, "first_response" | "resolution")`` marked now."""
    open_values = [status.value for status in OPEN_STATUSES]
    marked: list[tuple[int, str]] = []
    first_candidates = await session.scalars(
        select(SupportTicket.id).where(
            SupportTicket.first_response_breached_at.is_(None),
            SupportTicket.first_response_due_at < now,
            or_(
                SupportTicket.first_response_at.is_(None) & SupportTicket.status.in_(open_values),
                SupportTicket.first_response_at > SupportTicket.first_response_due_at,
            ),
        )
    )
    for ticket_id in list(first_candidates):
        done = await session.execute(
            update(SupportTicket)
            .where(SupportTicket.id == ticket_id, SupportTicket.first_response_breached_at.is_(None))
            .values(first_response_breached_at=now)
        )
        if getattr(done, "rowcount", 0):
            marked.append((ticket_id, "first_response"))
    resolution_candidates = await session.scalars(
        select(SupportTicket.id).where(
            SupportTicket.resolution_breached_at.is_(None),
            SupportTicket.resolution_due_at < now,
            SupportTicket.status.in_(open_values),
        )
    )
    for ticket_id in list(resolution_candidates):
        done = await session.execute(
            update(SupportTicket)
            .where(SupportTicket.id == ticket_id, SupportTicket.resolution_breached_at.is_(None))
            .values(resolution_breached_at=now)
        )
        if getattr(done, "rowcount", 0):
            marked.append((ticket_id, "resolution"))
    for ticket_id, which in marked:
        await record_audit(
            session,
            SYSTEM,
            "support.sla_breached",
            target_type="support_ticket",
            target_id=ticket_id,
            after={"target": which},
        )
    await session.flush()
    return marked
