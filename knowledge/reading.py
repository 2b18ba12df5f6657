"""What clients read: the help centre's index, one article, search results and suggestions,
each in the reader's language with English where a translation is missing. Drafts are never
shown: a draft's address answers "not found", as a missing one does."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge import search as search_module
from knowledge.categories import localised_name
from knowledge.errors import ArticleNotFoundError
from knowledge.markdown import plain_text, render_markdown
from knowledge.models import Article, ArticleStatus, ArticleTranslation, Category

EXCERPT_LIMIT = 160
FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class ArticleLink:
    """An article in a list: where it is, its title and a short excerpt, in the reader's language."""

    slug: str
    title: str
    excerpt: str
    category: str
    language: str


@dataclass(frozen=True)
class Section:
    """A category of the index with its published articles."""

    slug: str
    name: str
    articles: tuple[ArticleLink, ...]


@dataclass(frozen=True)
class ArticlePage:
    """One published article, its body rendered to safe HTML."""

    slug: str
    title: str
    body_html: str
    category: str
    category_slug: str
    language: str
    """The language the text is in: the reader's, or English when it has no translation."""
    updated_at: datetime


def excerpt(body: str) -> str:
    text = plain_text(body)
    return text if len(text) <= EXCERPT_LIMIT else text[: EXCERPT_LIMIT - 1].rstrip() + "…"


def _pick(translations: dict[str, ArticleTranslation], language: str) -> ArticleTranslation | None:
    return translations.get(language) or translations.get(FALLBACK_LANGUAGE)


async def _translations(
    session: AsyncSession, article_ids: Iterable[int]
) -> dict[int, dict[str, ArticleTranslation]]:
    ids = list(article_ids)
    by_article: dict[int, dict[str, ArticleTranslation]] = {}
    if not ids:
        return by_article
    for row in await session.scalars(
        select(ArticleTranslation).where(ArticleTranslation.article_id.in_(ids))
    ):
        by_article.setdefault(row.article_id, {})[row.language] = row
    return by_article


async def _links(
    session: AsyncSession, articles: list[tuple[Article, Category]], language: str
) -> list[ArticleLink]:
    texts = await _translations(session, [article.id for article, _ in articles])
    links = []
    for article, category in articles:
        chosen = _pick(texts.get(article.id, {}), language)
        if chosen is not None:
            links.append(
                ArticleLink(
                    article.slug,
                    chosen.title,
                    excerpt(chosen.body),
                    localised_name(category, language),
                    chosen.language,
                )
            )
    return links


async def help_index(session: AsyncSession, language: str) -> list[Section]:
    """Every category that has a published article, in order, with its articles in order."""
    rows = (
        await session.execute(
            select(Article, Category)
            .join(Category, Category.id == Article.category_id)
            .where(Article.status == ArticleStatus.PUBLISHED.value)
            .order_by(Category.position, Category.name_en, Article.position, Article.id)
        )
    ).all()
    pairs = [(article, category) for article, category in rows]
    links = {link.slug: link for link in await _links(session, pairs, language)}
    sections: dict[int, tuple[Category, list[ArticleLink]]] = {}
    for article, category in pairs:
        if article.slug in links:
            sections.setdefault(category.id, (category, []))[1].append(links[article.slug])
    return [
        Section(category.slug, localised_name(category, language), tuple(items))
        for category, items in sections.values()
    ]


async def article_page(session: AsyncSession, slug: str, language: str) -> ArticlePage:
    row = (
        await session.execute(
            select(Article, Category)
            .join(Category, Category.id == Article.category_id)
            .where(Article.slug == slug, Article.status == ArticleStatus.PUBLISHED.value)
        )
    ).first()
    if row is None:
        raise ArticleNotFoundError("No such article.")
    article, category = row
    chosen = _pick((await _translations(session, [article.id])).get(article.id, {}), language)
    if chosen is None:
        raise ArticleNotFoundError("No such article.")
    return ArticlePage(
        article.slug,
        chosen.title,
        render_markdown(chosen.body),
        localised_name(category, language),
        category.slug,
        chosen.language,
        article.updated_at,
    )


async def find(
    session: AsyncSession, query: str, language: str, limit: int = 10, *, loose: bool = False
) -> list[ArticleLink]:
    """Published articles matching ``query``, best first, in the reader's language."""
    matches = await search_module.search(session, query, limit=limit, loose=loose)
    if not matches:
        return []
    rows = (
        await session.execute(
            select(Article, Category)
            .join(Category, Category.id == Article.category_id)
            .where(Article.id.in_([m.article_id for m in matches]))
        )
    ).all()
    order = {m.article_id: index for index, m in enumerate(matches)}
    pairs = sorted(((a, c) for a, c in rows), key=lambda pair: order[pair[0].id])
    return await _links(session, pairs, language)
