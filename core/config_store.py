"""Settings that staff change at run time: one JSON document per key, with a version.

A document overrides the environment's defaults from the moment its transaction commits, so
every reader (both apps, the cashier, the workers) sees a change on its next use, without a
restart. The owner of a key keeps its typed accessor and its validation (the cashier reads its
limits, ``core.company`` the company details); this module only stores, versions and lists the
history of changes, which are audit events with before and after.

Writes check the version the editor saw, so two staff saving the same screen can't silently
overwrite each other: the second is told to reload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.audit.models import AuditEvent
from core.audit.service import Actor, AuditFilter, list_events, record_audit
from core.db import Base
from core.errors import CoreError

AUDIT_TARGET = "config"
"""The audit events of a change name this target type and the key as the target id."""
HISTORY_LIMIT = 50


class ConfigError(CoreError):
    """Raised for failures of the run-time settings store."""


class StaleConfigError(ConfigError):
    """Raised when a setting changed after the editor loaded it (someone else saved first)."""


class InvalidSettingError(ConfigError):
    """Raised when a submitted setting is invalid; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ConfigEntry(Base):
    """One run-time setting: a JSON document under a dotted key, versioned from 1."""

    __tablename__ = "config_entries"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int]
    updated_by: Mapped[int | None] = mapped_column(default=None)
    updated_at: Mapped[datetime]


@dataclass(frozen=True)
class StoredSetting:
    """A document as read, with the version an editor sends back when it saves."""

    key: str
    value: dict[str, Any]
    version: int
    updated_by: int | None
    updated_at: datetime | None


async def read_setting(session: AsyncSession, key: str) -> StoredSetting | None:
    """The stored document, or ``None`` while the defaults apply."""
    row = await session.get(ConfigEntry, key)
    if row is None:
        return None
    return StoredSetting(key, dict(row.value), row.version, row.updated_by, row.updated_at)


async def read_value(session: AsyncSession, key: str) -> dict[str, Any] | None:
    stored = await read_setting(session, key)
    return stored.value if stored else None


async def current_version(session: AsyncSession, key: str) -> int:
    """0 while nothing is stored."""
    stored = await read_setting(session, key)
    return stored.version if stored else 0


async def write_setting(
    session: AsyncSession,
    key: str,
    value: Mapping[str, Any],
    actor: Actor,
    *,
    expected_version: int | None,
    before: Mapping[str, Any],
    action: str = "settings.changed",
) -> StoredSetting:
    """Store ``value`` under ``key`` and audit the change (``before`` is what the reader saw as in
    force: the stored value or the defaults). ``expected_version`` is the version the editor
    loaded (0 for "nothing stored"); ``None`` skips the check (scripts, seeders)."""
    row = await session.get(ConfigEntry, key, with_for_update=True)
    found = row.version if row is not None else 0
    if expected_version is not None and expected_version != found:
        raise StaleConfigError(
            "Someone else changed these settings meanwhile; reload the page and try again."
        )
    now = clock.utcnow()
    document = dict(value)
    if row is None:
        row = ConfigEntry(key=key, value=document, version=1, updated_by=actor.id, updated_at=now)
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:  # a concurrent first save of the same key committed first
            raise StaleConfigError(
                "Someone else changed these settings meanwhile; reload the page and try again."
            ) from None
    else:
        row.value, row.version, row.updated_by, row.updated_at = document, row.version + 1, actor.id, now
        await session.flush()
    await record_audit(
        session,
        actor,
        action,
        target_type=AUDIT_TARGET,
        target_id=key,
        before={"version": found, **before},
        after={"version": row.version, **document},
    )
    return StoredSetting(key, document, row.version, row.updated_by, row.updated_at)


async def delete_setting(
    session: AsyncSession, key: str, actor: Actor, *, before: Mapping[str, Any], after: Mapping[str, Any]
) -> bool:
    """Forget the stored document (back to the defaults), audited; answers whether one existed."""
    row = await session.get(ConfigEntry, key, with_for_update=True)
    if row is None:
        return False
    version = row.version
    await session.delete(row)
    await session.flush()
    await record_audit(
        session,
        actor,
        "settings.reset",
        target_type=AUDIT_TARGET,
        target_id=key,
        before={"version": version, **before},
        after={"version": 0, **after},
    )
    return True


@dataclass(frozen=True)
class Change:
    """One line of a settings screen's history: who changed which fields, from what to what."""

    occurred_at: datetime
    actor_email: str
    action: str
    target_id: str
    fields: tuple[tuple[str, Any, Any], ...]
    """(field, before, after) for every field whose value changed (versions left out)."""

    @property
    def shown(self) -> tuple[tuple[str, str, str], ...]:
        """The fields as short texts for a page: JSON for lists and documents, cut at 160 characters."""
        return tuple((name, shown_value(old), shown_value(new)) for name, old, new in self.fields)


def shown_value(value: Any, limit: int = 160) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def changed_fields(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, prefix: str = ""
) -> tuple[tuple[str, Any, Any], ...]:
    """Fields whose value differs; nested documents (one per currency, say) as ``USD.field``."""
    old, new = dict(before or {}), dict(after or {})
    names = sorted((set(old) | set(new)) - ({"version"} if not prefix else set()))
    found: list[tuple[str, Any, Any]] = []
    for name in names:
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            found.extend(changed_fields(a, b, f"{prefix}{name}."))
        else:
            found.append((f"{prefix}{name}", a, b))
    return tuple(found)


def as_change(event: AuditEvent) -> Change:
    return Change(
        occurred_at=event.occurred_at,
        actor_email=event.actor_email,
        action=event.action,
        target_id=event.target_id,
        fields=changed_fields(event.before, event.after),
    )


async def history(
    session: AsyncSession, target_id: str, *, target_type: str = AUDIT_TARGET, limit: int = HISTORY_LIMIT
) -> Sequence[Change]:
    """The latest changes of one setting (or of any audited object), newest first."""
    events = await list_events(
        session, AuditFilter(target_type=target_type, target_id=target_id), limit=limit
    )
    return [as_change(event) for event in events]


async def history_of(
    session: AsyncSession, target_type: str, target_ids: Sequence[str], *, limit: int = HISTORY_LIMIT
) -> list[Change]:
    """Changes to several targets of one type, newest first (a screen that edits several keys)."""
    rows = await session.scalars(
        select(AuditEvent)
        .where(AuditEvent.target_type == target_type, AuditEvent.target_id.in_(list(target_ids)))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return [as_change(event) for event in rows]
