"""The tag catalogue and tagging clients; every change is audited with before and after."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor, record_audit
from core.identity.models import CLIENT, User
from crm.errors import ClientNotFoundError, TagError
from crm.models import ClientTag, Tag

MAX_NAME = 40
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_COLOUR = "#6b7280"


async def list_tags(session: AsyncSession) -> Sequence[Tag]:
    return (await session.scalars(select(Tag).order_by(func.lower(Tag.name)))).all()


def _clean(name: str, colour: str) -> tuple[str, str]:
    name = " ".join(name.split())
    if not name:
        raise TagError("a tag needs a name")
    if len(name) > MAX_NAME:
        raise TagError(f"a tag name has at most {MAX_NAME} characters")
    colour = colour.strip() or DEFAULT_COLOUR
    if not COLOUR.fullmatch(colour):
        raise TagError("a colour is written #rrggbb, for example #1d4ed8")
    return name, colour.lower()


async def _name_taken(session: AsyncSession, name: str, other_than: int | None = None) -> bool:
    statement = select(Tag.id).where(func.lower(Tag.name) == name.lower())
    if other_than is not None:
        statement = statement.where(Tag.id != other_than)
    return await session.scalar(statement) is not None


async def get_tag(session: AsyncSession, tag_id: int) -> Tag:
    tag = await session.get(Tag, tag_id)
    if tag is None:
        raise TagError(f"no tag has id {tag_id}")
    return tag


async def create_tag(session: AsyncSession, actor: Actor, name: str, colour: str) -> Tag:
    name, colour = _clean(name, colour)
    if await _name_taken(session, name):
        raise TagError(f"a tag named {name!r} exists already")
    tag = Tag(name=name, colour=colour)
    session.add(tag)
    await session.flush()
    await record_audit(
        session, actor, "crm.tag_created", target_type="crm_tag", target_id=tag.id, after=_shown(tag)
    )
    return tag


async def update_tag(session: AsyncSession, actor: Actor, tag_id: int, name: str, colour: str) -> Tag:
    tag = await get_tag(session, tag_id)
    name, colour = _clean(name, colour)
    if await _name_taken(session, name, other_than=tag_id):
        raise TagError(f"a tag named {name!r} exists already")
    before = _shown(tag)
    tag.name, tag.colour = name, colour
    await session.flush()
    if before != _shown(tag):
        await record_audit(
            session,
            actor,
            "crm.tag_changed",
            target_type="crm_tag",
            target_id=tag.id,
            before=before,
            after=_shown(tag),
        )
    return tag


async def delete_tag(session: AsyncSession, actor: Actor, tag_id: int) -> None:
    """Remove a tag from the catalogue and from every client that had it."""
    tag = await get_tag(session, tag_id)
    clients = await session.scalar(select(func.count()).where(ClientTag.tag_id == tag_id)) or 0
    before = {**_shown(tag), "clients": int(clients)}
    await session.delete(tag)
    await session.flush()
    await record_audit(
        session, actor, "crm.tag_deleted", target_type="crm_tag", target_id=tag_id, before=before
    )


async def _require_client(session: AsyncSession, client_id: int) -> None:
    user = await session.get(User, client_id)
    if user is None or user.kind != CLIENT:
        raise ClientNotFoundError(f"no client has id {client_id}")


async def tag_client(session: AsyncSession, actor: Actor, client_id: int, tag_id: int) -> bool:
    """Put a tag on a client; ``False`` (and no event) when they had it already."""
    await _require_client(session, client_id)
    tag = await get_tag(session, tag_id)
    if await session.get(ClientTag, (client_id, tag_id)) is not None:
        return False
    session.add(ClientTag(client_id=client_id, tag_id=tag_id, tagged_by=actor.id))
    await session.flush()
    await record_audit(
        session,
        actor,
        "crm.client_tagged",
        target_type="user",
        target_id=client_id,
        before={"tag": None},
        after={"tag": tag.name, "tag_id": tag.id},
    )
    return True


async def untag_client(session: AsyncSession, actor: Actor, client_id: int, tag_id: int) -> bool:
    """Take a tag off a client; ``False`` (and no event) when they did not have it."""
    await _require_client(session, client_id)
    tag = await get_tag(session, tag_id)
    row = await session.get(ClientTag, (client_id, tag_id))
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    await record_audit(
        session,
        actor,
        "crm.client_untagged",
        target_type="user",
        target_id=client_id,
        before={"tag": tag.name, "tag_id": tag.id},
        after={"tag": None},
    )
    return True


def _shown(tag: Tag) -> dict[str, object]:
    return {"name": tag.name, "colour": tag.colour}
