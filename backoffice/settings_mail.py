"""Mail templates (permission ``mail.templates``): staff override the subject, text and HTML of
each template per language, preview it in both languages with sample data, and reset it.

An override that does not compile or render is refused (400) with the Jinja error and its
line, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.guards import permission
from backoffice.settings_common import long_form
from core.company import load_company
from core.config_store import history
from core.i18n.catalogs import LANGUAGES
from core.mail.models import MailTemplateOverride
from core.mail.overrides import (
    AUDIT_TARGET,
    audit_id,
    effective_sources,
    preview,
    reset_override,
    save_override,
)
from core.mail.templates import MailTemplateError, RenderedMail, TemplateSources, template_names
from core.web.auth import actor_for, signed_in
from core.web.state import app_services


def _known(name: str, language: str) -> None:
    if name not in template_names() or language not in LANGUAGES:
        raise NotFoundException()


def _sources(form: dict[str, str]) -> TemplateSources:
    return TemplateSources(
        subject=form.get("subject", ""),
        text=form.get("text", "").replace("\r\n", "\n"),
        html=form.get("html", "").replace("\r\n", "\n"),
    )


async def _previews(
    session: AsyncSession, name: str, language: str, edited: TemplateSources | None
) -> dict[str, RenderedMail | str]:
    """Each language's mail rendered with sample data: the edited sources for the language being
    edited (when given), what is in force for the other; a failure shows as its message."""
    company = (await load_company(session)).as_json()
    answer: dict[str, RenderedMail | str] = {}
    for code in LANGUAGES:
        sources = (
            edited
            if (edited is not None and code == language)
            else (await effective_sources(session, name, code))[0]
        )
        try:
            answer[code] = preview(name, sources, company)
        except MailTemplateError as exc:
            answer[code] = str(exc)
    return answer


class MailTemplatesController(Controller):
    path = "/settings/mail-templates"
    include_in_schema = False
    opt = permission("mail.templates")

    @get("/", name="backoffice.settings.mail")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        async with app_services(request.app).database.session() as session:
            rows = await session.scalars(select(MailTemplateOverride))
            overrides = {(row.name, row.language): row for row in rows}
        context = {"names": template_names(), "languages": LANGUAGES, "overrides": overrides}
        return Template("settings/mail_list.html", context=context)

    async def _editor(
        self,
        request: Request[Any, Any, Any],
        name: str,
        language: str,
        *,
        edited: TemplateSources | None = None,
        error: str = "",
        status_code: int = 200,
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            sources, overridden = await effective_sources(session, name, language)
            previews = await _previews(session, name, language, edited)
            changes = await history(session, audit_id(name, language), target_type=AUDIT_TARGET)
        context = {
            "name": name,
            "language": language,
            "languages": LANGUAGES,
            "sources": edited or sources,
            "overridden": overridden,
            "previews": previews,
            "changes": changes,
            "error": error,
        }
        return Template("settings/mail_edit.html", context=context, status_code=status_code)

    @get("/{name:str}/{language:str}", name="backoffice.settings.mail.edit")
    async def edit(
        self, request: Request[Any, Any, Any], name: FromPath[str], language: FromPath[str]
    ) -> Template:
        _known(name, language)
        return await self._editor(request, name, language)

    @post("/{name:str}/{language:str}/preview", name="backoffice.settings.mail.preview")
    async def preview_page(
        self, request: Request[Any, Any, Any], name: FromPath[str], language: FromPath[str]
    ) -> Template:
        """Render what was typed without saving it; a broken template answers 400 with its error."""
        _known(name, language)
        edited = _sources(await long_form(request))
        async with app_services(request.app).database.session() as session:
            company = (await load_company(session)).as_json()
        try:
            preview(name, edited, company)
        except MailTemplateError as exc:
            return await self._editor(request, name, language, edited=edited, error=str(exc), status_code=400)
        return await self._editor(request, name, language, edited=edited)

    @post("/{name:str}/{language:str}", name="backoffice.settings.mail.save")
    async def save(
        self, request: Request[Any, Any, Any], name: FromPath[str], language: FromPath[str]
    ) -> Template | Redirect:
        _known(name, language)
        edited = _sources(await long_form(request))
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                company = (await load_company(session)).as_json()
                await save_override(
                    session, name, language, edited, actor_for(request, me.user), company=company
                )
        except MailTemplateError as exc:
            return await self._editor(request, name, language, edited=edited, error=str(exc), status_code=400)
        flash(request, "The mail template has been saved; new mails use it.", category="success")
        return Redirect(f"/settings/mail-templates/{name}/{language}", status_code=303)

    @post("/{name:str}/{language:str}/reset", name="backoffice.settings.mail.reset")
    async def reset(
        self, request: Request[Any, Any, Any], name: FromPath[str], language: FromPath[str]
    ) -> Redirect:
        _known(name, language)
        me = signed_in(request)
        async with app_services(request.app).database.transaction() as session:
            removed = await reset_override(session, name, language, actor_for(request, me.user))
        flash(
            request,
            "The default template applies again." if removed else "This template was not overridden.",
            category="success" if removed else "info",
        )
        return Redirect(f"/settings/mail-templates/{name}/{language}", status_code=303)
