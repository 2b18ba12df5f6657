"""Notes staff keep on clients and leads: an author, a text, pinned or not; every change audited."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.audit.service import Actor, record_audit
from crm.scope import DataScope
from crm.work_errors import WorkItemError, WorkItemNotFoundError
from crm.work_models import Note
from crm.work_targets import Target, require_target

MAX_NOTE_LENGTH = 5000


async def add_note(
    session: AsyncSession, actor: Actor, scope: DataScope, target: Target, body: str, *, pinned: bool = False
) -> Note:
    """Add a note by ``actor`` to the client or lead."""
    text = body.strip()
    if not text:
        raise WorkItemError("note: write something")
    if len(text) > MAX_NOTE_LENGTH:
        raise WorkItemError(f"note: at most {MAX_NOTE_LENGTH} characters")
    if actor.id is None:
        raise WorkItemError("note: only a staff member can write a note")
    await require_target(session, scope, target)
    note = Note(**target.columns(), author_id=actor.id, body=text, pinned=pinned, created_at=clock.utcnow())
    session.add(note)
    await session.flush()
    await record_audit(
        session,
        actor,
        "crm.note_added",
        target_type=target.kind.value,
        target_id=target.id,
        after={"note_id": note.id, "body": text, "pinned": pinned},
    )
    return note


async def set_pinned(
    session: AsyncSession, actor: Actor, scope: DataScope, target: Target, note_id: int, pinned: bool
) -> Note:
    """Pin the note to the top of the list, or unpin it."""
    await require_target(session, scope, target)
    note = await session.get(Note, note_id, with_for_update=True)
    if note is None or not target.owns(note):
        raise WorkItemNotFoundError(f"no note #{note_id} on this {target.kind.value}")
    if note.pinned != pinned:
        note.pinned = pinned
        await session.flush()
        await record_audit(
            session,
            actor,
            "crm.note_pinned" if pinned else "crm.note_unpinned",
            target_type=target.kind.value,
            target_id=target.id,
            before={"note_id": note.id, "pinned": not pinned},
            after={"note_id": note.id, "pinned": pinned},
        )
    return note


async def notes_of(session: AsyncSession, target: Target, limit: int = 200) -> Sequence[Note]:
    """The target's notes, pinned first, newest first (the caller checked the scope)."""
    return (
        await session.scalars(
            select(Note)
            .where(target.matches(Note))
            .order_by(Note.pinned.desc(), Note.created_at.desc(), Note.id.desc())
            .limit(limit)
        )
    ).all()
