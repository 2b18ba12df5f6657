"""Writing and reading audit events.

Values are masked before they are stored: any key that names a secret (password, token, TOTP
secret, recovery code …) keeps only the fact that it was set.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.audit.models import AuditEvent

MASK = "***"
SECRET_KEY_PARTS = ("password", "secret", "token", "recovery", "api_key", "credential")
USER_AGENT_LIMIT = 400


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff member, a client, or the system (id ``None``)."""

    id: int | None
    email: str = ""
    kind: str = "system"
    ip: str = ""
    user_agent: str = ""


SYSTEM = Actor(id=None, email="system", kind="system")


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def mask_secrets(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A copy of ``values`` with secret-looking keys masked, nested mappings included."""
    if values is None:
        return None
    masked: dict[str, Any] = {}
    for key, value in values.items():
        if is_secret_key(key):
            masked[key] = None if value is None else MASK
        elif isinstance(value, Mapping):
            masked[key] = mask_secrets(value)
        elif isinstance(value, datetime):
            masked[key] = value.isoformat()
        else:
            masked[key] = value
    return masked


def audit_event(
    actor: Actor,
    action: str,
    *,
    target_type: str = "",
    target_id: object = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Build one event, secrets masked; the caller adds it to its session (its transaction)."""
    return AuditEvent(
        occurred_at=clock.utcnow(),
        actor_id=actor.id,
        actor_email=actor.email,
        actor_kind=actor.kind,
        action=action,
        target_type=target_type,
        target_id="" if target_id is None else str(target_id),
        before=mask_secrets(before),
        after=mask_secrets(after),
        ip=actor.ip,
        user_agent=actor.user_agent[:USER_AGENT_LIMIT],
    )


async def record_audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    target_type: str = "",
    target_id: object = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction. ``action`` is dotted: ``staff.role_granted``."""
    event = audit_event(
        actor, action, target_type=target_type, target_id=target_id, before=before, after=after
    )
    session.add(event)
    await session.flush()
    return event


@dataclass(frozen=True)
class AuditFilter:
    """What the audit viewer narrows by; empty fields do not filter."""

    action: str = ""
    actor: str = ""
    target_type: str = ""
    target_id: str = ""
    since: datetime | None = None
    until: datetime | None = None


def filtered_query(filters: AuditFilter) -> Select[AuditEvent]:
    query = select(AuditEvent)
    if filters.action:
        query = query.where(AuditEvent.action.startswith(filters.action, autoescape=True))
    if filters.actor:
        query = query.where(AuditEvent.actor_email.contains(filters.actor.lower(), autoescape=True))
    if filters.target_type:
        query = query.where(AuditEvent.target_type == filters.target_type)
    if filters.target_id:
        query = query.where(AuditEvent.target_id == filters.target_id)
    if filters.since:
        query = query.where(AuditEvent.occurred_at >= filters.since)
    if filters.until:
        query = query.where(AuditEvent.occurred_at < filters.until)
    return query.order_by(AuditEvent.id.desc())


async def list_events(
    session: AsyncSession, filters: AuditFilter, *, limit: int = 100, offset: int = 0
) -> Sequence[AuditEvent]:
    return (await session.scalars(filtered_query(filters).limit(limit).offset(offset))).all()


CSV_COLUMNS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_email",
    "actor_kind",
    "action",
    "target_type",
    "target_id",
    "before",
    "after",
    "ip",
    "user_agent",
)


def _csv_cell(value: object) -> str:
    """Text for a CSV cell; a leading formula character is neutralised (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def events_csv(events: Sequence[AuditEvent]) -> str:
    import json

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for event in events:
        row: list[object] = [
            event.id,
            event.occurred_at.isoformat(),
            event.actor_id,
            event.actor_email,
            event.actor_kind,
            event.action,
            event.target_type,
            event.target_id,
            json.dumps(event.before, ensure_ascii=False, sort_keys=True) if event.before else "",
            json.dumps(event.after, ensure_ascii=False, sort_keys=True) if event.after else "",
            event.ip,
            event.user_agent,
        ]
        writer.writerow([_csv_cell(cell) for cell in row])
    return buffer.getvalue()
