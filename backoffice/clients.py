"""Clients: the searchable list with filters, pages, CSV and segments, bulk assignment, the
client 360 page with its tag and owner actions, and the tag catalogue.

Reading needs ``clients.read``; tagging ``clients.edit``; assigning ``clients.assign``. Every
client read goes through the staff member's data scope (``crm.scope``): a client outside it is a
404 on the page and on each of its actions, exactly like an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.settings import ALL_TIERS
from backoffice.csv_download import csv_response
from backoffice.guards import permission, staff_permissions
from backoffice.money import money_formatter
from core import clock
from core.audit.service import record_audit
from core.i18n import current_language
from core.identity import staff
from core.web.auth import actor_for, signed_in
from core.web.forms import error_text, form_fields, form_list
from core.web.state import app_services
from crm import segments, tags
from crm.assignment import assign_client, assign_clients
from crm.client_360 import client_deals, client_timeline, load_client_360, require_client
from crm.client_search import (
    FILTER_FIELDS,
    UNASSIGNED,
    ClientFilter,
    clients_csv,
    export_rows,
    parse_filter,
    search_clients,
)
from crm.errors import (
    AssignmentError,
    ClientNotFoundError,
    InvalidFilterError,
    OutOfScopeError,
    SegmentError,
    TagError,
)
from crm.scope import DataScope, data_scope_of
from kyc.countries import countries
from kyc.models import CaseStatus, RiskLevel
from risk.alerts import alerts_for_client
from risk.rules import RULE_LABELS
from support.labels import STATUS_LABELS as TICKET_STATUS_LABELS
from support.queue import MANAGE_PERMISSION as SUPPORT_QUEUE
from support.queue import tickets_of_client

READ = "clients.read"
EDIT = "clients.edit"
ASSIGN = "clients.assign"
RISK_QUEUE = "risk.manage"
"""Alerts on the 360 are shown to staff who may open the alert queue they link to."""


def _page_number(request: Request[Any, Any, Any], name: str = "page") -> int:
    raw = request.query_params.get(name) or "0"
    return min(int(raw), 100_000) if raw.isdigit() and len(raw) < 7 else 0


async def _scope(session: AsyncSession, request: Request[Any, Any, Any]) -> DataScope:
    return await data_scope_of(session, signed_in(request).user.id)


async def _require_client(session: AsyncSession, request: Request[Any, Any, Any], client_id: int) -> None:
    """404 unless the client exists and is inside the signed-in staff member's scope."""
    try:
        await require_client(session, await _scope(session, request), client_id)
    except (ClientNotFoundError, OutOfScopeError):
        raise NotFoundException() from None


def _owner_id(form: dict[str, str]) -> int | None:
    raw = (form.get("owner") or "").strip().lower()
    if raw == UNASSIGNED:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise AssignmentError("owner: choose a staff member, or nobody")
    return int(raw)


async def _list_context(request: Request[Any, Any, Any], filters: ClientFilter, page: int) -> dict[str, Any]:
    async with app_services(request.app).database.read_session() as session:
        scope = await _scope(session, request)
        result = await search_clients(session, scope, filters, page=page)
        return {
            "result": result,
            "filters": filters,
            "query": filters.to_query(),
            "scope": scope,
            **await _beside_the_list(session, request),
        }


async def _beside_the_list(session: AsyncSession, request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What the list page shows around the rows: segments, the filters' choices, permissions."""
    held = await staff_permissions(request)
    return {
        "segments": await segments.visible_segments(session, signed_in(request).user.id),
        "tags": await tags.list_tags(session),
        "staff_members": await _active_staff(session),
        **_choices(held),
    }


async def _active_staff(session: AsyncSession) -> list[Any]:
    return [member for member in await staff.list_staff(session) if member.is_active]


def _choices(held: frozenset[str]) -> dict[str, Any]:
    return {
        "kyc_statuses": ["none", *(s.value for s in CaseStatus)],
        "risks": [r.value for r in RiskLevel],
        "value_tiers": ALL_TIERS,
        "countries": countries(current_language()),
        "can_edit": EDIT in held,
        "can_assign": ASSIGN in held,
    }


async def _list_error(request: Request[Any, Any, Any], field: str, message: Any) -> Template:
    """The list page again, empty, with the refusal naming its field (HTTP 400)."""
    async with app_services(request.app).database.session() as session:
        context = {
            "result": None,
            "filters": ClientFilter(),
            "query": "",
            "error_field": field,
            "error": message,
            "raw": dict(request.query_params),
            **await _beside_the_list(session, request),
        }
    return Template("clients/list.html", context=context, status_code=400)


class ClientsController(Controller):
    path = "/clients"
    include_in_schema = False
    opt = permission(READ)

    @get("/", name="backoffice.clients.list")
    async def list_clients(self, request: Request[Any, Any, Any]) -> Template:
        try:
            filters = parse_filter(request.query_params)
        except InvalidFilterError as exc:
            return await _list_error(request, exc.field, error_text(exc))
        context = await _list_context(request, filters, _page_number(request))
        segment = request.query_params.get("segment") or ""
        context["segment_id"] = int(segment) if segment.isdigit() and len(segment) < 18 else None
        return Template("clients/list.html", context=context)

    @get("/export.csv", name="backoffice.clients.export")
    async def export(self, request: Request[Any, Any, Any]) -> Response[str] | Template:
        try:
            filters = parse_filter(request.query_params)
        except InvalidFilterError as exc:
            return await _list_error(request, exc.field, error_text(exc))
        services = app_services(request.app)
        async with services.database.transaction() as session:
            scope = await _scope(session, request)
            rows = await export_rows(session, scope, filters)
            await record_audit(
                session,
                actor_for(request, signed_in(request).user),
                "crm.clients_exported",
                after={"filters": filters.to_query(), "rows": len(rows), "scope": scope.kind.value},
            )
        return csv_response(clients_csv(rows), "clients")

    @post("/assign", name="backoffice.clients.assign_bulk", opt=permission(ASSIGN))
    async def assign_bulk(self, request: Request[Any, Any, Any]) -> Redirect | Template:
        form = await form_fields(request)
        raw_ids = await form_list(request, "client_ids")
        back = form.get("back", "")
        back_query = (
            back
            if back and all(part.split("=")[0] in (*FILTER_FIELDS, "page") for part in back.split("&"))
            else ""
        )
        try:
            if not raw_ids or not all(raw.isdigit() and len(raw) < 18 for raw in raw_ids):
                raise AssignmentError("client_ids: tick at least one client")
            owner_id = _owner_id(form)
            services = app_services(request.app)
            async with services.database.transaction() as session:
                scope = await _scope(session, request)
                changed = await assign_clients(
                    session, actor_for(request, signed_in(request).user), scope, map(int, raw_ids), owner_id
                )
        except OutOfScopeError:
            raise NotFoundException() from None
        except AssignmentError as exc:
            return await _list_error(request, "owner", error_text(exc))
        flash(request, "Owner saved for the chosen clients.", "success")
        del changed
        return Redirect("/clients/" + ("?" + back_query if back_query else ""), status_code=303)

    @get("/{client_id:int}", name="backoffice.clients.detail")
    async def detail(self, request: Request[Any, Any, Any], client_id: FromPath[int]) -> Template:
        services = app_services(request.app)
        async with services.database.session() as session:
            scope = await _scope(session, request)
        try:
            view = await load_client_360(services.database, scope, client_id)
        except (ClientNotFoundError, OutOfScopeError):
            raise NotFoundException() from None
        async with services.database.session() as session:
            deals = await client_deals(session, client_id, _page_number(request, "deals_page"))
            timeline = await client_timeline(session, client_id, _page_number(request, "timeline_page"))
            all_tags = await tags.list_tags(session)
            members = await _active_staff(session)
            held = await staff_permissions(request)
            alerts = await alerts_for_client(session, client_id) if RISK_QUEUE in held else None
            support_tickets = (
                await tickets_of_client(session, client_id, clock.utcnow()) if SUPPORT_QUEUE in held else None
            )
        currencies = {w.currency for w in view.wallets} | {d.currency for d in view.deposits}
        currencies |= {w.currency for w in view.withdrawals} | {t.from_currency for t in view.transfers}
        currencies |= {e.currency for e in timeline.events if e.currency}
        currencies |= {view.figures.currency} if view.figures else set()
        context = {
            "view": view,
            "client": view.user,
            "deals": deals,
            "timeline": timeline,
            "all_tags": [t for t in all_tags if t.id not in {held.id for held in view.tags}],
            "staff_members": members,
            "money": await money_formatter(services.database, currencies or {"USD"}),
            "risk_alerts": alerts,
            "rule_labels": RULE_LABELS,
            "support_tickets": support_tickets,
            "ticket_status_labels": TICKET_STATUS_LABELS,
            **_choices(held),
        }
        return Template("clients/detail.html", context=context)

    @post("/{client_id:int}/tags", name="backoffice.clients.tag", opt=permission(EDIT))
    async def add_tag(self, request: Request[Any, Any, Any], client_id: FromPath[int]) -> Redirect:
        form = await form_fields(request)
        raw = form.get("tag_id", "")
        services = app_services(request.app)
        async with services.database.transaction() as session:
            await _require_client(session, request, client_id)
            if not raw.isdigit() or len(raw) > 18:
                flash(request, "Tag: choose a tag from the catalogue.", "error")
                return Redirect(f"/clients/{client_id}", status_code=303)
            try:
                await tags.tag_client(
                    session, actor_for(request, signed_in(request).user), client_id, int(raw)
                )
            except TagError:
                flash(request, "Tag: choose a tag from the catalogue.", "error")
                return Redirect(f"/clients/{client_id}", status_code=303)
        flash(request, "Tag added.", "success")
        return Redirect(f"/clients/{client_id}", status_code=303)

    @post("/{client_id:int}/tags/{tag_id:int}/remove", name="backoffice.clients.untag", opt=permission(EDIT))
    async def remove_tag(
        self, request: Request[Any, Any, Any], client_id: FromPath[int], tag_id: FromPath[int]
    ) -> Redirect:
        services = app_services(request.app)
        async with services.database.transaction() as session:
            await _require_client(session, request, client_id)
            try:
                await tags.untag_client(
                    session, actor_for(request, signed_in(request).user), client_id, tag_id
                )
            except TagError:
                raise NotFoundException() from None
        flash(request, "Tag removed.", "success")
        return Redirect(f"/clients/{client_id}", status_code=303)

    @post("/{client_id:int}/owner", name="backoffice.clients.owner", opt=permission(ASSIGN))
    async def set_owner(self, request: Request[Any, Any, Any], client_id: FromPath[int]) -> Redirect:
        form = await form_fields(request)
        services = app_services(request.app)
        async with services.database.transaction() as session:
            await _require_client(session, request, client_id)
            try:
                owner_id = _owner_id(form)
                await assign_client(session, actor_for(request, signed_in(request).user), client_id, owner_id)
            except AssignmentError:
                flash(request, "Owner: choose an active staff member, or nobody.", "error")
                return Redirect(f"/clients/{client_id}", status_code=303)
        flash(request, "Owner saved.", "success")
        return Redirect(f"/clients/{client_id}", status_code=303)


class SegmentsController(Controller):
    """Saved list filters: any staff member who reads clients saves their own or shares them."""

    path = "/clients/segments"
    include_in_schema = False
    opt = permission(READ)

    @post("/", name="backoffice.clients.segments.save")
    async def save(self, request: Request[Any, Any, Any]) -> Redirect | Template:
        form = await form_fields(request)
        try:
            filters = parse_filter({k: v for k, v in form.items() if k in FILTER_FIELDS})
        except InvalidFilterError as exc:
            return await _list_error(request, exc.field, error_text(exc))
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                segment = await segments.save_segment(
                    session,
                    actor_for(request, me.user),
                    me.user.id,
                    form.get("name", ""),
                    filters.to_query(),
                    shared=form.get("shared") == "1",
                )
        except SegmentError as exc:
            return await _list_error(request, "name", error_text(exc))
        flash(request, "Segment saved.", "success")
        return Redirect(f"/clients/segments/{segment.id}", status_code=303)

    @get("/{segment_id:int}", name="backoffice.clients.segments.open")
    async def open(self, request: Request[Any, Any, Any], segment_id: FromPath[int]) -> Redirect:
        async with app_services(request.app).database.session() as session:
            try:
                segment = await segments.open_segment(session, signed_in(request).user.id, segment_id)
            except SegmentError:
                raise NotFoundException() from None
        query = f"{segment.query}&segment={segment.id}" if segment.query else f"segment={segment.id}"
        return Redirect(f"/clients/?{query}", status_code=303)

    @post("/{segment_id:int}/delete", name="backoffice.clients.segments.delete")
    async def delete(self, request: Request[Any, Any, Any], segment_id: FromPath[int]) -> Redirect:
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await segments.delete_segment(session, actor_for(request, me.user), me.user.id, segment_id)
        except SegmentError:
            raise NotFoundException() from None
        flash(request, "Segment deleted.", "success")
        return Redirect("/clients/", status_code=303)


class TagCatalogueController(Controller):
    """The tag catalogue: names and colours (``clients.edit``)."""

    path = "/clients/tags"
    include_in_schema = False
    opt = permission(EDIT)

    async def _page(
        self, request: Request[Any, Any, Any], error: Any = "", status: int = 200, **form: str
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            catalogue = await tags.list_tags(session)
        return Template(
            "clients/tags.html",
            context={"catalogue": catalogue, "error": error, "form": form},
            status_code=status,
        )

    @get("/", name="backoffice.clients.tags")
    async def catalogue(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    @post("/", name="backoffice.clients.tags.create")
    async def create(self, request: Request[Any, Any, Any]) -> Redirect | Template:
        form = await form_fields(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await tags.create_tag(
                    session,
                    actor_for(request, signed_in(request).user),
                    form.get("name", ""),
                    form.get("colour", ""),
                )
        except TagError as exc:
            return await self._page(request, error_text(exc), 400, **form)
        flash(request, "Tag created.", "success")
        return Redirect("/clients/tags/", status_code=303)

    @post("/{tag_id:int}", name="backoffice.clients.tags.update")
    async def update(self, request: Request[Any, Any, Any], tag_id: FromPath[int]) -> Redirect | Template:
        form = await form_fields(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await tags.update_tag(
                    session,
                    actor_for(request, signed_in(request).user),
                    tag_id,
                    form.get("name", ""),
                    form.get("colour", ""),
                )
        except TagError as exc:
            return await self._page(request, error_text(exc), 400)
        flash(request, "Tag saved.", "success")
        return Redirect("/clients/tags/", status_code=303)

    @post("/{tag_id:int}/delete", name="backoffice.clients.tags.delete")
    async def delete(self, request: Request[Any, Any, Any], tag_id: FromPath[int]) -> Redirect:
        try:
            async with app_services(request.app).database.transaction() as session:
                await tags.delete_tag(session, actor_for(request, signed_in(request).user), tag_id)
        except TagError:
            raise NotFoundException() from None
        flash(request, "Tag deleted.", "success")
        return Redirect("/clients/tags/", status_code=303)


CONTROLLERS = (ClientsController, SegmentsController, TagCatalogueController)
