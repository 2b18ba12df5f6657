"""The help centre's editor (permission ``knowledge.manage``): categories, articles in English and
Chinese, a preview of the rendered Markdown before saving, publishing and taking back. Every save
and status change is audited by :mod:`knowledge`; the history comes from the audit log."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from markupsafe import Markup

from backoffice.guards import permission
from backoffice.publishing import Publishing
from backoffice.settings_common import long_form
from core.config_store import history
from core.web.auth import actor_for, signed_in
from core.web.htmx import VARY, is_htmx
from core.web.state import app_services
from knowledge import articles, categories
from knowledge.errors import ArticleNotFoundError, CategoryNotFoundError, InvalidArticleError
from knowledge.markdown import render_markdown
from knowledge.models import Article, ArticleStatus

BASE = "/knowledge"
PUBLISHING = Publishing(
    set_status=articles.set_status,
    not_found=ArticleNotFoundError,
    published=ArticleStatus.PUBLISHED,
    draft=ArticleStatus.DRAFT,
    published_message="The article is published.",
    draft_message="The article is back to draft.",
    page=BASE + "/articles/{}",
)


def previews(values: dict[str, str]) -> list[dict[str, Any]]:
    """The article as clients would see it, per language that has a text; nothing is saved."""
    shown = []
    for language in articles.LANGUAGES:
        suffix = language.lower()
        title, body = values.get(f"title_{suffix}", "").strip(), values.get(f"body_{suffix}", "")
        if title or body.strip():
            html = Markup(render_markdown(body))  # noqa: S704 - knowledge.markdown escapes all input
            shown.append({"language": language, "title": title, "html": html})
    return shown


class KnowledgeController(Controller):
    path = BASE
    include_in_schema = False
    opt = permission("knowledge.manage")

    @get("/", name="backoffice.knowledge")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        return await self._index(request)

    async def _index(
        self,
        request: Request[Any, Any, Any],
        *,
        values: dict[str, str] | None = None,
        error: str = "",
        error_field: str = "",
        status_code: int = 200,
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            rows = await articles.list_for_staff(session)
            cats = await categories.list_categories(session)
        context = {
            "rows": rows,
            "categories": cats,
            "values": values or {},
            "error": error,
            "error_field": error_field,
        }
        return Template("knowledge/index.html", context=context, status_code=status_code)

    async def _editor(
        self,
        request: Request[Any, Any, Any],
        row: Article | None,
        *,
        values: dict[str, str] | None = None,
        error: str = "",
        error_field: str = "",
        shown: list[dict[str, Any]] | None = None,
        status_code: int = 200,
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            cats = await categories.list_categories(session)
            stored: dict[str, str] = {}
            changes: list[Any] = []
            if row is not None:
                stored = articles.form_values(row, await articles.translations_of(session, row.id))
                changes = list(await history(session, str(row.id), target_type=articles.AUDIT_TARGET))
        context = {
            "row": row,
            "values": {**stored, **(values or {})},
            "categories": cats,
            "changes": changes,
            "previews": shown,
            "error": error,
            "error_field": error_field,
        }
        return Template("knowledge/article_form.html", context=context, status_code=status_code)

    async def _row(self, request: Request[Any, Any, Any], article_id: int) -> Article:
        async with app_services(request.app).database.session() as session:
            try:
                row, _texts = await articles.get_article(session, article_id)
            except ArticleNotFoundError:
                raise NotFoundException() from None
        return row

    @post("/categories", name="backoffice.knowledge.categories.create")
    async def create_category(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        return await self._save_category(request, None)

    @post("/categories/{category_id:int}", name="backoffice.knowledge.categories.update")
    async def update_category(
        self, request: Request[Any, Any, Any], category_id: FromPath[int]
    ) -> Template | Redirect:
        return await self._save_category(request, category_id)

    async def _save_category(
        self, request: Request[Any, Any, Any], category_id: int | None
    ) -> Template | Redirect:
        form = await long_form(request)
        me = signed_in(request)
        try:
            data = categories.parse_category(form)
            async with app_services(request.app).database.transaction() as session:
                await categories.save_category(session, data, actor_for(request, me.user), category_id)
        except CategoryNotFoundError:
            raise NotFoundException() from None
        except InvalidArticleError as exc:
            return await self._index(
                request, values=form, error=str(exc), error_field=exc.field, status_code=400
            )
        flash(request, "The category has been saved.", category="success")
        return Redirect(BASE, status_code=303)

    @get("/articles/new", name="backoffice.knowledge.new")
    async def new(self, request: Request[Any, Any, Any]) -> Template:
        return await self._editor(request, None)

    @post("/articles", name="backoffice.knowledge.create")
    async def create(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        return await self._save(request, None)

    async def _save(self, request: Request[Any, Any, Any], row: Article | None) -> Template | Redirect:
        """Create (no row) or change an article; bad input shows the editor again, saving nothing."""
        form = await long_form(request)
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                saved = await articles.save_article(
                    session, form, actor_for(request, me.user), row.id if row else None
                )
        except InvalidArticleError as exc:
            return await self._editor(
                request, row, values=form, error=str(exc), error_field=exc.field, status_code=400
            )
        if row is None:
            flash(
                request, "The article is saved as a draft; publish it when it is ready.", category="success"
            )
        else:
            flash(request, "The article has been saved.", category="success")
        return Redirect(f"{BASE}/articles/{saved.id}", status_code=303)

    @post("/preview", name="backoffice.knowledge.preview")
    async def preview(self, request: Request[Any, Any, Any]) -> Template:
        """The editor's "Preview" button: with htmx the rendered texts alone; without, the editor
        again with the typed values kept and the preview below. Saves nothing."""
        form = await long_form(request)
        shown = previews(form)
        if is_htmx(request):
            return Template("knowledge/_preview.html", context={"previews": shown}, headers=VARY)
        raw_id = form.get("article_id", "")
        row = await self._row(request, int(raw_id)) if raw_id.isdigit() else None
        return await self._editor(request, row, values=form, shown=shown)

    @get("/articles/{article_id:int}", name="backoffice.knowledge.edit")
    async def edit(self, request: Request[Any, Any, Any], article_id: FromPath[int]) -> Template:
        return await self._editor(request, await self._row(request, article_id))

    @post("/articles/{article_id:int}", name="backoffice.knowledge.update")
    async def update(self, request: Request[Any, Any, Any], article_id: FromPath[int]) -> Template | Redirect:
        return await self._save(request, await self._row(request, article_id))

    @post("/articles/{article_id:int}/publish", name="backoffice.knowledge.publish")
    async def publish(self, request: Request[Any, Any, Any], article_id: FromPath[int]) -> Redirect:
        return await PUBLISHING.publish(request, article_id)

    @post("/articles/{article_id:int}/unpublish", name="backoffice.knowledge.unpublish")
    async def unpublish(self, request: Request[Any, Any, Any], article_id: FromPath[int]) -> Redirect:
        return await PUBLISHING.unpublish(request, article_id)
