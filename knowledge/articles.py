"""Writing help articles: the editor's form, drafts, publishing, and the staff list.

An article has an English translation (required) and a Chinese one (optional: readers of Chinese
get English until it exists). A new article is a draft; publishing it and taking it back are
separate, audited steps. An edit of a published article is live once saved.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.audit.service import Actor, record_audit
from knowledge.categories import parse_position, parse_slug
from knowledge.errors import ArticleNotFoundError, InvalidArticleError
from knowledge.markdown import plain_text
from knowledge.models import Article, ArticleStatus, ArticleTranslation, Category

AUDIT_TARGET = "knowledge_article"
TITLE_LIMIT = 200
BODY_LIMIT = 50_000
SLUG_LIMIT = 120
LANGUAGES = ("en", "zh_Hans")
"""Languages an article is written in; the first is required and is every reader's fallback."""


@dataclass(frozen=True)
class TranslationInput:
    language: str
    title: str
    body: str


@dataclass(frozen=True)
class ArticleInput:
    """A validated article form: only the translations that were filled in."""

    slug: str
    category_id: int
    position: int
    translations: tuple[TranslationInput, ...]


def slug_from(title: str) -> str:
    """``How do I deposit?`` → ``how-do-i-deposit``; empty when the title has no Latin letters."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[a-z0-9]+", ascii_text.lower()))[:SLUG_LIMIT].strip("-")


def _field(language: str, part: str) -> str:
    return f"{part}_{language.lower()}"


def parse_article(form: Mapping[str, str], category_ids: set[int]) -> ArticleInput:
    """Check a submitted editor form; :class:`InvalidArticleError` names the field at fault."""
    found: list[TranslationInput] = []
    for language in LANGUAGES:
        title = " ".join((form.get(_field(language, "title")) or "").split())
        body = (form.get(_field(language, "body")) or "").replace("\r\n", "\n").strip()
        label = "English" if language == "en" else "Chinese"
        if language == "en" and not title:
            raise InvalidArticleError(_field(language, "title"), "English title: required.")
        if language == "en" and not body:
            raise InvalidArticleError(_field(language, "body"), "English text: required.")
        if bool(title) != bool(body):
            raise InvalidArticleError(
                _field(language, "title"), f"{label} title and text: give both or neither."
            )
        if len(title) > TITLE_LIMIT:
            raise InvalidArticleError(
                _field(language, "title"), f"{label} title: at most {TITLE_LIMIT} characters."
            )
        if len(body) > BODY_LIMIT:
            raise InvalidArticleError(
                _field(language, "body"), f"{label} text: at most {BODY_LIMIT} characters."
            )
        if title:
            found.append(TranslationInput(language, title, body))
    raw_category = (form.get("category_id") or "").strip()
    if not raw_category.isdigit() or int(raw_category) not in category_ids:
        raise InvalidArticleError("category_id", "Category: choose one of the listed categories.")
    raw_slug = (form.get("slug") or "").strip() or slug_from(found[0].title)
    slug = parse_slug(raw_slug, "slug", SLUG_LIMIT)
    return ArticleInput(slug, int(raw_category), parse_position(form.get("position")), tuple(found))


def search_text(title: str, body: str) -> str:
    """What search matches in: the title and the body's words, lowercased."""
    return f"{title}\n{plain_text(body)}".lower()


async def translations_of(session: AsyncSession, article_id: int) -> dict[str, ArticleTranslation]:
    rows = await session.scalars(
        select(ArticleTranslation).where(ArticleTranslation.article_id == article_id)
    )
    return {row.language: row for row in rows}


def audit_view(row: Article, translations: Mapping[str, ArticleTranslation]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "slug": row.slug,
        "category_id": row.category_id,
        "position": row.position,
        "status": row.status,
    }
    for language in LANGUAGES:
        found = translations.get(language)
        view[_field(language, "title")] = found.title if found else ""
        view[_field(language, "body")] = found.body if found else ""
    return view


async def _check_slug(session: AsyncSession, slug: str, other_than: int | None) -> None:
    found = await session.scalar(select(Article.id).where(Article.slug == slug))
    if found is not None and found != other_than:
        raise InvalidArticleError("slug", f"Web address: another article already uses “{slug}”.")


async def _write_translations(session: AsyncSession, row: Article, data: ArticleInput) -> None:
    existing = await translations_of(session, row.id)
    wanted = {item.language: item for item in data.translations}
    for language, old in existing.items():
        if language not in wanted:
            await session.delete(old)
    for language, item in wanted.items():
        target = existing.get(language) or ArticleTranslation(article_id=row.id, language=language)
        target.title, target.body = item.title, item.body
        target.search_text = search_text(item.title, item.body)
        session.add(target)
    await session.flush()


async def create_article(session: AsyncSession, data: ArticleInput, actor: Actor) -> Article:
    """A new draft."""
    await _check_slug(session, data.slug, None)
    now = clock.utcnow()
    row = Article(
        slug=data.slug,
        category_id=data.category_id,
        position=data.position,
        status=ArticleStatus.DRAFT.value,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    await _write_translations(session, row, data)
    await record_audit(
        session,
        actor,
        "knowledge.article_created",
        target_type=AUDIT_TARGET,
        target_id=row.id,
        after=audit_view(row, await translations_of(session, row.id)),
    )
    return row


async def _locked(session: AsyncSession, article_id: int) -> Article:
    row = await session.get(Article, article_id, with_for_update=True)
    if row is None:
        raise ArticleNotFoundError("No such article.")
    return row


async def update_article(session: AsyncSession, article_id: int, data: ArticleInput, actor: Actor) -> Article:
    row = await _locked(session, article_id)
    await _check_slug(session, data.slug, article_id)
    before = audit_view(row, await translations_of(session, row.id))
    row.slug, row.category_id, row.position = data.slug, data.category_id, data.position
    row.updated_at = clock.utcnow()
    await _write_translations(session, row, data)
    await record_audit(
        session,
        actor,
        "knowledge.article_changed",
        target_type=AUDIT_TARGET,
        target_id=row.id,
        before=before,
        after=audit_view(row, await translations_of(session, row.id)),
    )
    return row


async def save_article(
    session: AsyncSession, form: Mapping[str, str], actor: Actor, article_id: int | None = None
) -> Article:
    """Check the editor's form against the categories there are, then create the article (no id)
    or change it. :class:`InvalidArticleError` names the field at fault; nothing is written then."""
    data = parse_article(form, set(await session.scalars(select(Category.id))))
    if article_id is None:
        return await create_article(session, data, actor)
    return await update_article(session, article_id, data, actor)


async def set_status(session: AsyncSession, article_id: int, status: ArticleStatus, actor: Actor) -> Article:
    """Publish, or take back to draft (clients then get "not found")."""
    row = await _locked(session, article_id)
    translations = await translations_of(session, row.id)
    before = audit_view(row, translations)
    now = clock.utcnow()
    row.status, row.updated_at = status.value, now
    if status is ArticleStatus.PUBLISHED and row.published_at is None:
        row.published_at = now
    await session.flush()
    await record_audit(
        session,
        actor,
        "knowledge.article_published"
        if status is ArticleStatus.PUBLISHED
        else "knowledge.article_unpublished",
        target_type=AUDIT_TARGET,
        target_id=row.id,
        before=before,
        after=audit_view(row, translations),
    )
    return row


async def get_article(
    session: AsyncSession, article_id: int
) -> tuple[Article, dict[str, ArticleTranslation]]:
    row = await session.get(Article, article_id)
    if row is None:
        raise ArticleNotFoundError("No such article.")
    return row, await translations_of(session, article_id)


def form_values(row: Article, translations: Mapping[str, ArticleTranslation]) -> dict[str, str]:
    """The editor's fields for a stored article."""
    view = audit_view(row, translations)
    return {key: str(value) for key, value in view.items() if key != "status"}


@dataclass(frozen=True)
class StaffRow:
    """An article as the staff list shows it."""

    id: int
    slug: str
    title: str
    category: str
    status: str
    languages: tuple[str, ...]
    updated_at: datetime


async def list_for_staff(session: AsyncSession) -> list[StaffRow]:
    rows = (
        await session.execute(
            select(Article, Category.name_en)
            .join(Category, Category.id == Article.category_id)
            .order_by(Category.position, Category.name_en, Article.position, Article.id)
        )
    ).all()
    languages: dict[int, dict[str, str]] = {}
    for translation in await session.scalars(select(ArticleTranslation)):
        languages.setdefault(translation.article_id, {})[translation.language] = translation.title
    answer = []
    for article, category in rows:
        titles = languages.get(article.id, {})
        answer.append(
            StaffRow(
                article.id,
                article.slug,
                titles.get("en", article.slug),
                category,
                article.status,
                tuple(language for language in LANGUAGES if language in titles),
                article.updated_at,
            )
        )
    return answer
