"""Schemes and ranks: list them; create a scheme, a rank, or a new version of a scheme's rules with
its effective date; publish a draft. A new version is a draft until published (or until a
recompute publishes it), so staff can try it on past deals first. Bad input re-shows the form with
the message and writes nothing."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy import or_, select

from backoffice.guards import permission
from backoffice.ib_staff.common import (
    IB_MANAGE,
    FormError,
    database,
    moment,
    required,
    staff_action,
    staff_actor,
    staff_transaction,
    whole,
)
from core.audit.service import record_audit
from core.clock import utcnow
from core.web.forms import form_fields
from ib import schemes, staff_views
from ib.errors import IbError
from ib.models import Rank, Scheme
from ib.rules import RULE_KINDS
from ib.scheme_input import BLANK_ROWS, form_rows, row_from_rule, rules_from_form

BACK = "/ib/schemes"


class IbSchemesController(Controller):
    path = "/ib/schemes"
    include_in_schema = False
    opt = permission(IB_MANAGE)

    @get("/", name="backoffice.ib.schemes")
    async def overview(self, request: Request[Any, Any, Any]) -> Template:
        async with database(request).session() as session:
            views = await staff_views.schemes(session)
            ranks = await staff_views.ranks(session)
        context = {"schemes": views, "ranks": ranks, "increments": staff_views.rank_increments(views)}
        return Template("ib/schemes.html", context=context)

    @post("/", name="backoffice.ib.schemes.create")
    async def create(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await form_fields(request)

        async def change() -> None:
            name = required(form.get("name", ""), "scheme name")[:100]
            currency = required(form.get("currency", ""), "currency").upper()[:8]
            async with staff_transaction(request) as (session, actor):
                if await session.scalar(select(Scheme.id).where(Scheme.name == name)):
                    raise FormError(f"A scheme named {name!r} exists already.")
                await schemes.create_scheme(session, name, currency=currency, actor=actor, now=utcnow())

        return await staff_action(request, change, done="Scheme created.", back=BACK)

    @post("/ranks", name="backoffice.ib.ranks.create")
    async def create_rank(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await form_fields(request)

        async def change() -> None:
            code = required(form.get("code", ""), "rank code").lower()[:32]
            name = required(form.get("name", ""), "rank name")[:64]
            position = whole(form.get("position", ""), "rank position")
            async with staff_transaction(request) as (session, _actor):
                clash = await session.scalar(
                    select(Rank.code).where(or_(Rank.code == code, Rank.position == position))
                )
                if clash is not None:
                    raise FormError(f"Rank {clash!r} already has that code or position.")
                await schemes.create_rank(session, code, name=name, position=int(position or 0))
                await record_audit(
                    session,
                    staff_actor(request),
                    "ib.rank_created",
                    target_type="rank",
                    target_id=code,
                    after={"name": name, "position": position},
                )

        return await staff_action(request, change, done="Rank created.", back=BACK)

    async def _version_form(
        self, request: Request[Any, Any, Any], scheme_id: int, rows: list[dict[str, str]] | None, **extra: Any
    ) -> Template:
        async with database(request).session() as session:
            view = await staff_views.scheme_view(session, scheme_id)
            ranks = await staff_views.ranks(session)
        if view is None:
            raise NotFoundException()
        if rows is None:
            latest = view.latest
            rows = [row_from_rule(rule) for rule in (latest.rules if latest else [])]
            rows += [{} for _ in range(BLANK_ROWS)]
        context = {
            "view": view,
            "rows": rows,
            "kinds": RULE_KINDS,
            "required_params": schemes.REQUIRED_PARAMS,
            "ranks": ranks,
            "error": "",
            "effective_from": "",
            **extra,
        }
        return Template("ib/version_form.html", context=context, status_code=400 if context["error"] else 200)

    @get("/{scheme_id:int}/versions/new", name="backoffice.ib.schemes.version_form")
    async def new_version(self, request: Request[Any, Any, Any], scheme_id: FromPath[int]) -> Template:
        return await self._version_form(request, scheme_id, None)

    @post("/{scheme_id:int}/versions", name="backoffice.ib.schemes.add_version")
    async def add_version(
        self, request: Request[Any, Any, Any], scheme_id: FromPath[int]
    ) -> Template | Redirect:
        form = await form_fields(request)
        try:
            start = moment(form.get("effective_from", ""), "effective date")
            rules = rules_from_form(form)
            async with staff_transaction(request) as (session, actor):
                version = await schemes.add_version(
                    session, scheme_id, effective_from=start, rules=rules, actor=actor, now=utcnow()
                )
        except (IbError, FormError) as exc:
            return await self._version_form(
                request,
                scheme_id,
                [*form_rows(form), *({} for _ in range(BLANK_ROWS))],
                error=str(exc),
                effective_from=form.get("effective_from", ""),
            )
        flash(request, f"Version {version.version} saved as a draft.", category="success")
        return Redirect(BACK, status_code=303)

    @post("/versions/{version_id:int}/publish", name="backoffice.ib.schemes.publish")
    async def publish(self, request: Request[Any, Any, Any], version_id: FromPath[int]) -> Redirect:
        async def change() -> None:
            async with staff_transaction(request) as (session, actor):
                await schemes.publish_version(session, version_id, actor=actor, now=utcnow())

        return await staff_action(request, change, done="Version published.", back=BACK)
