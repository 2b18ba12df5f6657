"""Categories of the help centre: staff name them in each language and order them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor, record_audit
from knowledge.errors import CategoryNotFoundError, InvalidArticleError
from knowledge.models import Category

AUDIT_TARGET = "knowledge_category"
NAME_LIMIT = 120
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_LIMIT = 80
POSITION_LIMIT = 10_000


def parse_position(raw: str | None) -> int:
    """An order number (0 when empty); lower numbers come first."""
    text = (raw or "").strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) > POSITION_LIMIT:
        raise InvalidArticleError("position", f"Order: a whole number from 0 to {POSITION_LIMIT}.")
    return int(text)


def parse_slug(raw: str | None, field: str, limit: int) -> str:
    slug = (raw or "").strip().lower()
    if not slug:
        raise InvalidArticleError(field, "Web address: required (lowercase letters, digits and hyphens).")
    if len(slug) > limit or not SLUG.match(slug):
        raise InvalidArticleError(
            field, f"Web address: lowercase letters, digits and single hyphens, at most {limit} characters."
        )
    return slug


@dataclass(frozen=True)
class CategoryInput:
    """A validated category form."""

    slug: str
    name_en: str
    name_zh_hans: str
    position: int


def parse_category(form: Mapping[str, str]) -> CategoryInput:
    """Check a submitted category form; :class:`InvalidArticleError` names the field at fault."""
    name_en = " ".join((form.get("name_en") or "").split())
    name_zh = " ".join((form.get("name_zh_hans") or "").split())
    if not name_en:
        raise InvalidArticleError("name_en", "English name: required.")
    for field, value in (("name_en", name_en), ("name_zh_hans", name_zh)):
        if len(value) > NAME_LIMIT:
            raise InvalidArticleError(field, f"Name: at most {NAME_LIMIT} characters.")
    slug = parse_slug(form.get("slug"), "slug", SLUG_LIMIT)
    return CategoryInput(slug, name_en, name_zh, parse_position(form.get("position")))


def category_view(row: Category) -> dict[str, Any]:
    return {
        "slug": row.slug,
        "name_en": row.name_en,
        "name_zh_hans": row.name_zh_hans,
        "position": row.position,
    }


def localised_name(row: Category, language: str) -> str:
    return row.name_zh_hans if language == "zh_Hans" and row.name_zh_hans else row.name_en


async def list_categories(session: AsyncSession) -> list[Category]:
    return list(await session.scalars(select(Category).order_by(Category.position, Category.name_en)))


async def _slug_taken(session: AsyncSession, slug: str, other_than: int | None) -> bool:
    found = await session.scalar(select(Category.id).where(Category.slug == slug))
    return found is not None and found != other_than


async def save_category(
    session: AsyncSession, data: CategoryInput, actor: Actor, category_id: int | None = None
) -> Category:
    """Create a category (no id) or change one; audited with before and after."""
    if await _slug_taken(session, data.slug, category_id):
        raise InvalidArticleError("slug", f"Web address: another category already uses “{data.slug}”.")
    row: Category | None
    before: dict[str, Any] | None = None
    if category_id is None:
        row = Category()
        session.add(row)
    else:
        row = await session.get(Category, category_id, with_for_update=True)
        if row is None:
            raise CategoryNotFoundError("No such category.")
        before = category_view(row)
    row.slug, row.name_en, row.name_zh_hans, row.position = (
        data.slug,
        data.name_en,
        data.name_zh_hans,
        data.position,
    )
    await session.flush()
    await record_audit(
        session,
        actor,
        "knowledge.category_created" if before is None else "knowledge.category_changed",
        target_type=AUDIT_TARGET,
        target_id=row.id,
        before=before,
        after=category_view(row),
    )
    return row
