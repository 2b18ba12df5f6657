"""Canned replies: prepared answers staff keep in a managed list and pick when they reply."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor, record_audit
from support.errors import CannedReplyNotFoundError, InvalidTicketInputError
from support.models import CannedReply
from support.tickets import BODY_LIMIT

TITLE_LIMIT = 120
AUDIT_TARGET = "support_canned_reply"


async def list_canned(session: AsyncSession, *, active_only: bool) -> list[CannedReply]:
    query = select(CannedReply).order_by(CannedReply.title)
    if active_only:
        query = query.where(CannedReply.active.is_(True))
    return list(await session.scalars(query))


def _clean(title: str, body: str) -> tuple[str, str]:
    title = " ".join(title.replace("\x00", "").split())
    body = body.replace("\x00", "").replace("\r\n", "\n").strip()
    if not title:
        raise InvalidTicketInputError("title", "Enter a title.")
    if len(title) > TITLE_LIMIT:
        raise InvalidTicketInputError("title", f"A title has at most {TITLE_LIMIT} characters.")
    if not body:
        raise InvalidTicketInputError("body", "Write the reply's text.")
    if len(body) > BODY_LIMIT:
        raise InvalidTicketInputError("body", f"A reply has at most {BODY_LIMIT} characters.")
    return title, body


async def _title_taken(session: AsyncSession, title: str, other_than: int | None) -> bool:
    existing = await session.scalar(select(CannedReply.id).where(CannedReply.title == title))
    return existing is not None and existing != other_than


async def save_canned(
    session: AsyncSession,
    reply_id: int | None,
    *,
    title: str,
    body: str,
    active: bool,
    actor: Actor,
    now: datetime,
) -> CannedReply:
    """Create (``reply_id`` ``None``) or change a canned reply; audited with before and after."""
    title, body = _clean(title, body)
    if await _title_taken(session, title, reply_id):
        raise InvalidTicketInputError("title", "Another canned reply has this title.")
    before: dict[str, object] | None = None
    if reply_id is None:
        row = CannedReply(title=title, body=body, active=active, updated_by=actor.id, updated_at=now)
        session.add(row)
    else:
        found = await session.get(CannedReply, reply_id)
        if found is None:
            raise CannedReplyNotFoundError("No such canned reply.")
        row = found
        before = {"title": row.title, "body": row.body, "active": row.active}
        row.title, row.body, row.active, row.updated_by, row.updated_at = title, body, active, actor.id, now
    await session.flush()
    await record_audit(
        session,
        actor,
        "support.canned_reply_created" if before is None else "support.canned_reply_changed",
        target_type=AUDIT_TARGET,
        target_id=row.id,
        before=before,
        after={"title": title, "body": body, "active": active},
    )
    return row


async def delete_canned(session: AsyncSession, reply_id: int, actor: Actor) -> None:
    row = await session.get(CannedReply, reply_id)
    if row is None:
        raise CannedReplyNotFoundError("No such canned reply.")
    before = {"title": row.title, "body": row.body, "active": row.active}
    await session.delete(row)
    await session.flush()
    await record_audit(
        session,
        actor,
        "support.canned_reply_deleted",
        target_type=AUDIT_TARGET,
        target_id=reply_id,
        before=before,
    )
