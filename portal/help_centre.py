"""The help centre in the portal: articles by category, one article, search, and the
suggestions the new-ticket form asks for as the client types (an htmx fragment; a whole page
without JavaScript). Public: a visitor can read help before signing in. What is shown, in which
language, comes from :mod:`knowledge`."""

from __future__ import annotations

import contextlib
from typing import Any

from litestar import Controller, Request, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from markupsafe import Markup

from core.i18n import current_language
from core.web.auth import SignInRequiredError, load_signed_in
from core.web.htmx import VARY, is_htmx
from core.web.state import app_services
from knowledge import reading
from knowledge.errors import ArticleNotFoundError
from knowledge.search import QUERY_LIMIT

SUGGESTION_LIMIT = 5


async def note_who_is_signed_in(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Guard that never refuses: help is public, but a signed-in client still sees their account
    and "Sign out" in the header, as on every other page."""
    with contextlib.suppress(SignInRequiredError):
        await load_signed_in(connection)


def clean_query(raw: str | None) -> str:
    """A query as typed, its spaces collapsed and NUL characters (which no one types) dropped."""
    return " ".join((raw or "").replace("\x00", "").split())


class HelpController(Controller):
    path = "/help"
    include_in_schema = False
    guards = [note_who_is_signed_in]

    @get("/", name="portal.help")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        async with app_services(request.app).database.session() as session:
            sections = await reading.help_index(session, current_language())
        return Template("help/index.html", context={"sections": sections, "q": ""})

    @get("/search", name="portal.help.search")
    async def search(self, request: Request[Any, Any, Any], q: FromQuery[str] = "") -> Template:
        query = clean_query(q)
        if len(query) > QUERY_LIMIT:
            return Template(
                "help/search.html",
                context={"q": query[:QUERY_LIMIT], "results": [], "error": "too_long", "limit": QUERY_LIMIT},
                status_code=400,
            )
        results = []
        if query:
            async with app_services(request.app).database.session() as session:
                results = await reading.find(session, query, current_language(), limit=20)
        return Template(
            "help/search.html",
            context={"q": query, "results": results, "error": "" if query else "empty", "limit": QUERY_LIMIT},
        )

    @get("/suggest", name="portal.help.suggest")
    async def suggest(
        self, request: Request[Any, Any, Any], q: FromQuery[str] = "", subject: FromQuery[str] = ""
    ) -> Template:
        """Articles for what a client is typing into a ticket: ``q``, or the ticket form's own
        ``subject`` field, so the form can ask with ``hx-get="/help/suggest" hx-include="this"``
        on its subject input (htmx can't rename a field without eval, which our CSP forbids). A
        long text is read up to the search limit rather than refused: it is a ticket being
        written, not a search."""
        query = clean_query(q) or clean_query(subject)
        results = []
        if query:
            async with app_services(request.app).database.session() as session:
                results = await reading.find(
                    session, query, current_language(), limit=SUGGESTION_LIMIT, loose=True
                )
        name = "help/_suggestions.html" if is_htmx(request) else "help/suggest.html"
        return Template(name, context={"q": query, "results": results}, headers=VARY)

    @get("/articles/{article_slug:str}", name="portal.help.article")
    async def article(self, request: Request[Any, Any, Any], article_slug: FromPath[str]) -> Template:
        async with app_services(request.app).database.session() as session:
            try:
                page = await reading.article_page(session, article_slug, current_language())
            except ArticleNotFoundError:
                raise NotFoundException() from None
        return Template(
            "help/article.html",
            context={"article": page, "body": Markup(page.body_html)},  # noqa: S704 - rendered by knowledge.markdown, which escapes all input
        )
