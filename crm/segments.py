"""Saved segments: a named client-list filter, the staff member's own or shared with all staff.

A segment stores only the filter; opening it runs the list with the viewer's own data scope, so
a shared segment never shows a limited staff member more than their own list would.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor, record_audit
from crm.errors import SegmentError
from crm.models import Segment

MAX_NAME = 80
MAX_QUERY = 1000


async def visible_segments(session: AsyncSession, staff_id: int) -> Sequence[Segment]:
    """The staff member's own segments and the shared ones, by name."""
    return (
        await session.scalars(
            select(Segment)
            .where(or_(Segment.owner_id == staff_id, Segment.shared.is_(True)))
            .order_by(func.lower(Segment.name), Segment.id)
        )
    ).all()


async def open_segment(session: AsyncSession, staff_id: int, segment_id: int) -> Segment:
    """A segment the staff member may open (their own or a shared one)."""
    segment = await session.get(Segment, segment_id)
    if segment is None or (segment.owner_id != staff_id and not segment.shared):
        raise SegmentError(f"no segment {segment_id} is open to you")
    return segment


async def save_segment(
    session: AsyncSession, actor: Actor, staff_id: int, name: str, query: str, *, shared: bool
) -> Segment:
    """Save the list filter ``query`` (a normalised query string) under ``name``."""
    name = " ".join(name.split())
    if not name:
        raise SegmentError("a segment needs a name")
    if len(name) > MAX_NAME:
        raise SegmentError(f"a segment name has at most {MAX_NAME} characters")
    if len(query) > MAX_QUERY:
        raise SegmentError("this filter is too long to save")
    taken = await session.scalar(
        select(Segment.id).where(Segment.owner_id == staff_id, func.lower(Segment.name) == name.lower())
    )
    if taken is not None:
        raise SegmentError(f"you have a segment named {name!r} already")
    segment = Segment(owner_id=staff_id, name=name, query=query, shared=shared)
    session.add(segment)
    await session.flush()
    await record_audit(
        session,
        actor,
        "crm.segment_saved",
        target_type="crm_segment",
        target_id=segment.id,
        after={"name": name, "query": query, "shared": shared},
    )
    return segment


async def delete_segment(session: AsyncSession, actor: Actor, staff_id: int, segment_id: int) -> None:
    """Delete one of the staff member's own segments."""
    segment = await session.get(Segment, segment_id)
    if segment is None or segment.owner_id != staff_id:
        raise SegmentError(f"you have no segment {segment_id}")
    before = {"name": segment.name, "query": segment.query, "shared": segment.shared}
    await session.delete(segment)
    await session.flush()
    await record_audit(
        session, actor, "crm.segment_deleted", target_type="crm_segment", target_id=segment_id, before=before
    )
