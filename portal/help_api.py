"""The help centre as JSON for integrations (a chat widget, a mobile app): the same published
articles, search and language fallback as the pages. Public, like the pages; read only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from core.i18n import current_language
from core.web.api_errors import ApiError, api_errors
from core.web.state import app_services
from knowledge import reading
from knowledge.errors import ArticleNotFoundError
from knowledge.search import QUERY_LIMIT
from portal.help_centre import clean_query


@dataclass(frozen=True)
class ArticleSummary:
    """A published article in a list, in the reader's language (``language`` says which)."""

    slug: str
    title: str
    excerpt: str
    category: str
    language: str


@dataclass(frozen=True)
class ArticleBody:
    """One published article, its body as safe HTML rendered from the Markdown."""

    slug: str
    title: str
    category: str
    language: str
    html: str
    updated_at: str


@get("/articles", name="portal.api.help.articles", responses=api_errors(400))
async def list_articles(
    request: Request[Any, Any, Any], q: FromQuery[str] = ""
) -> Response[list[ArticleSummary] | ApiError]:
    """Every published article, by category; with ``q``, those matching it, best first.
    ``Accept-Language`` (or the language cookie) picks the language; English is the fallback."""
    query = clean_query(q)
    if len(query) > QUERY_LIMIT:
        return Response(ApiError(400, f"q: at most {QUERY_LIMIT} characters."), status_code=400)
    language = current_language()
    async with app_services(request.app).database.session() as session:
        if query:
            links = await reading.find(session, query, language, limit=20)
        else:
            links = [
                link for section in await reading.help_index(session, language) for link in section.articles
            ]
    return Response([ArticleSummary(x.slug, x.title, x.excerpt, x.category, x.language) for x in links])


@get("/articles/{article_slug:str}", name="portal.api.help.article")
async def get_article(request: Request[Any, Any, Any], article_slug: FromPath[str]) -> ArticleBody:
    """One published article; a draft or an unknown address is 404."""
    async with app_services(request.app).database.session() as session:
        try:
            page = await reading.article_page(session, article_slug, current_language())
        except ArticleNotFoundError:
            raise NotFoundException("No such article.") from None
    return ArticleBody(
        page.slug, page.title, page.category, page.language, page.body_html, page.updated_at.isoformat()
    )


router = Router(path="/api/v1/help", route_handlers=[list_articles, get_article], tags=["help"])
