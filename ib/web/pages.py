"""The IB portal's read pages: dashboard, network tree, clients, deals, commission lines (with CSV)
and statistics. Each handler asks :mod:`ib` for the signed-in IB's own data and renders it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from core.money import format_amount
from core.web.auth import SIGN_IN_HANDLERS, requires_sign_in
from core.web.state import app_services
from ib.commission_queries import (
    LineFilter,
    lines_csv,
)
from ib.network_queries import (
    DealFilter,
    client_page,
    deal_page,
    network_symbols,
    network_tree,
)
from ib.query_common import Grain
from ib.web.access import current_partner, load_partner, network_today, requires_partner, scheme_money
from ib.web.charts import statistics_chart_data
from ib.web.filters import FILTERS, MONTH_FILTERS, DateRange, Paging
from ib.web.reads import client_or_404, dashboard_figures, line_or_404, lines_and_totals, statistics_over


class IbHomeController(Controller):
    """``/ib``: the dashboard for an IB; a client without an IB profile is sent to the application."""

    path = "/ib"
    include_in_schema = False
    guards = [requires_sign_in]
    exception_handlers = SIGN_IN_HANDLERS

    @get("/", name="ib.dashboard")
    async def home(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        partner = await load_partner(request)
        if partner is None:
            return Redirect("/ib/apply", status_code=303)
        async with app_services(request.app).database.session() as session:
            figures, downline = await dashboard_figures(session, partner)
            money = await scheme_money(session)
        context = {
            "figures": figures,
            "money": money,
            "sub_ibs": len(downline.partner_ids) - 1,
            "clients": len(downline.referred_clients),
            "section": "dashboard",
        }
        return Template("ib/dashboard.html", context=context)


class IbPagesController(Controller):
    """Every other IB page; only an approved IB reaches them, and only for its own network."""

    path = "/ib"
    include_in_schema = False
    guards = [requires_sign_in, requires_partner]
    exception_handlers = SIGN_IN_HANDLERS

    @get("/network", name="ib.network", dependencies=MONTH_FILTERS)
    async def network(self, request: Request[Any, Any, Any], dates: NamedDependency[DateRange]) -> Template:
        async with app_services(request.app).database.session() as session:
            downline = await network_today(session, current_partner(request))
            tree = await network_tree(session, downline, dates.window)
        context = {"tree": tree, "dates": dates, "section": "network", "moment": downline.moment}
        return Template("ib/network.html", context=context)

    @get("/clients", name="ib.clients", dependencies=MONTH_FILTERS)
    async def clients(
        self,
        request: Request[Any, Any, Any],
        dates: NamedDependency[DateRange],
        paging: NamedDependency[Paging],
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            downline = await network_today(session, current_partner(request))
            page = await client_page(
                session, downline, dates.window, page=paging.page, per_page=paging.per_page
            )
            money = await scheme_money(session)
        context = {"page": page, "dates": dates, "money": money, "section": "clients"}
        return Template("ib/clients.html", context=context)

    @get("/clients/{client_id:int}", name="ib.client", dependencies=MONTH_FILTERS)
    async def client(
        self, request: Request[Any, Any, Any], client_id: FromPath[int], dates: NamedDependency[DateRange]
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            view = await client_or_404(session, current_partner(request), client_id, dates)
            money = await scheme_money(session)
        context = {"client": view, "dates": dates, "money": money, "section": "clients"}
        return Template("ib/client.html", context=context)

    @get("/deals", name="ib.deals", dependencies=FILTERS)
    async def deals(
        self,
        request: Request[Any, Any, Any],
        deal_filter: NamedDependency[DealFilter],
        dates: NamedDependency[DateRange],
        paging: NamedDependency[Paging],
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            downline = await network_today(session, current_partner(request))
            page = await deal_page(session, downline, deal_filter, page=paging.page, per_page=paging.per_page)
            symbols = await network_symbols(session, downline)
        context = {
            "page": page,
            "where": deal_filter,
            "dates": dates,
            "symbols": symbols,
            "query": request.url.query,
            "format_minor": format_amount,
            "section": "deals",
        }
        return Template("ib/deals.html", context=context)

    @get("/commissions", name="ib.commissions", dependencies=FILTERS)
    async def commissions(
        self,
        request: Request[Any, Any, Any],
        line_filter: NamedDependency[LineFilter],
        dates: NamedDependency[DateRange],
        paging: NamedDependency[Paging],
    ) -> Template:
        partner = current_partner(request)
        async with app_services(request.app).database.session() as session:
            page, totals = await lines_and_totals(session, partner, line_filter, paging)
            symbols = await network_symbols(session, await network_today(session, partner))
            money = await scheme_money(session)
        context = {
            "page": page,
            "totals": totals,
            "where": line_filter,
            "dates": dates,
            "symbols": symbols,
            "money": money,
            "query": request.url.query,
            "section": "commissions",
        }
        return Template("ib/commissions.html", context=context)

    @get("/commissions.csv", name="ib.commissions.csv", dependencies=FILTERS)
    async def commissions_csv(
        self, request: Request[Any, Any, Any], line_filter: NamedDependency[LineFilter]
    ) -> Response[str]:
        partner = current_partner(request)
        async with app_services(request.app).database.session() as session:
            body = await lines_csv(session, partner.partner_id, line_filter)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="commissions.csv"',
                "Cache-Control": "no-store",
            },
        )

    @get("/commissions/{deal_id:int}/{rule_id:int}", name="ib.commission")
    async def commission(
        self, request: Request[Any, Any, Any], deal_id: FromPath[int], rule_id: FromPath[int]
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            line = await line_or_404(session, current_partner(request), deal_id, rule_id)
            money = await scheme_money(session)
        return Template(
            "ib/commission.html", context={"line": line, "money": money, "section": "commissions"}
        )

    @get("/statistics", name="ib.statistics", dependencies=MONTH_FILTERS)
    async def statistics_page(
        self,
        request: Request[Any, Any, Any],
        dates: NamedDependency[DateRange],
        grain: NamedDependency[Grain],
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            stats = await statistics_over(session, current_partner(request), dates, grain)
            money = await scheme_money(session)
        context = {
            "stats": stats,
            "dates": dates,
            "grain": grain,
            "money": money,
            "chart_data": statistics_chart_data(stats, money),
            "section": "statistics",
        }
        return Template("ib/statistics.html", context=context)
