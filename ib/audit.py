"""The IB audit trail: every change to partners, the tree, attribution, schemes and payouts goes
into the shared audit log (:mod:`core.audit`), in the same transaction as the change itself.

IB services name their actor as ``"<kind>:<id>"`` (``"staff:7"``, ``"client:3"``, ``"system"``)
and their subject as ``"<type>:<id>"`` (``"partner:3"``); both are split into the log's columns.

The services take that plain label because workers and the CLI call them too. A staff page knows
more about who acts (email, IP, browser); it runs the service inside :func:`acting_as`, and every
event whose label names that same person carries those details, as the design's "who, what,
before/after, IP" asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor, audit_event

_acting: ContextVar[Actor | None] = ContextVar("ib_acting_as", default=None)


def label_of(actor: Actor) -> str:
    """The label IB services record for ``actor`` (``"staff:7"``)."""
    return f"{actor.kind}:{actor.id}" if actor.id is not None else actor.kind


@contextmanager
def acting_as(actor: Actor) -> Iterator[str]:
    """Run IB services for ``actor``: yields its label, and its events carry its full details."""
    token = _acting.set(actor)
    try:
        yield label_of(actor)
    finally:
        _acting.reset(token)


def _actor(label: str) -> Actor:
    known = _acting.get()
    if known is not None and label_of(known) == label:
        return known
    kind, _, raw_id = label.partition(":")
    return Actor(id=int(raw_id) if raw_id.isdigit() else None, kind=kind or "system")


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> None:
    """Add one event (``actor`` like ``"staff:7"``, ``subject`` like ``"partner:3"``)."""
    target_type, _, target_id = subject.partition(":")
    details = {**(after or {}), "reason": reason} if reason else after
    event = audit_event(
        _actor(actor), action, target_type=target_type, target_id=target_id, before=before, after=details
    )
    event.occurred_at = now
    session.add(event)
