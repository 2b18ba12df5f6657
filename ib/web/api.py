"""The IB portal's data as JSON under ``/api/v1/ib`` for integrations: the same queries as the pages,
behind the same sign-in and IB check, cut to the same network. Another IB's ids answer 404.

Writes (allocation, link, payout request) need the session's CSRF header like every portal POST;
the payout request takes its idempotency key from the ``Idempotency-Key`` header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from core import clock
from core.money import InvalidAmountError
from core.web.api_errors import api_errors
from core.web.auth import TOO_MANY, over_money_limit, requires_sign_in
from core.web.state import app_services
from ib.allocation_queries import AllocationOverview, allocation_overview
from ib.commission_queries import (
    LineFilter,
    LineView,
    Statistics,
    Total,
)
from ib.errors import AllocationError, AttributionError, PayoutError
from ib.link_queries import partner_links
from ib.models import Payout, ReferralLink
from ib.network_queries import (
    ClientView,
    DealFilter,
    DealView,
    NodeView,
    client_page,
    deal_page,
    network_tree,
)
from ib.payout_requests import Payable, payout_overview, request_payout
from ib.query_common import Grain
from ib.timeutil import aware
from ib.web.access import current_partner, network_today, requires_partner
from ib.web.actions import allocate_from_now, create_partner_link, referral_link_url
from ib.web.filters import FILTERS, MONTH_FILTERS, DateRange, Paging
from ib.web.reads import client_or_404, dashboard_figures, line_or_404, lines_and_totals, statistics_over

IDEMPOTENCY_HEADER = "idempotency-key"


@dataclass(frozen=True)
class DashboardAnswer:
    today: list[Total]
    this_month: list[Total]
    month_by_level: list[Total]
    sub_ibs: int
    clients: int


@dataclass(frozen=True)
class NetworkNode:
    """One IB of the network; ``parent_id`` is ``None`` for the signed-in IB itself."""

    partner_id: int
    parent_id: int | None
    client_id: int
    rank: str | None
    depth: int
    clients: int
    own_lots: Decimal
    branch_lots: Decimal


@dataclass(frozen=True)
class NetworkAnswer:
    moment: datetime
    start: datetime | None
    end: datetime | None
    nodes: list[NetworkNode]


@dataclass(frozen=True)
class ClientsAnswer:
    items: list[ClientView]
    page: int
    per_page: int
    total: int


@dataclass(frozen=True)
class DealsAnswer:
    items: list[DealView]
    page: int
    per_page: int
    total: int


@dataclass(frozen=True)
class LinesAnswer:
    items: list[LineView]
    page: int
    per_page: int
    total: int
    totals: list[Total]


@dataclass(frozen=True)
class LinkAnswer:
    id: int
    code: str
    campaign: str
    url: str
    qr_url: str
    active: bool
    clicks: int
    registrations: int
    created_at: datetime


@dataclass(frozen=True)
class PayoutAnswer:
    id: int
    currency: str
    amount: int
    status: str
    created_at: datetime


@dataclass(frozen=True)
class PayoutsAnswer:
    frequency: str | None
    minimum_amount: int
    hold_for_review: bool
    may_request: bool
    payable: list[Payable]
    payouts: list[PayoutAnswer]


@dataclass(frozen=True)
class AllocationRequest:
    """Give direct sub-IB ``sub_ib`` the per-lot ``amount`` (in the scheme's currency, as people
    write it: ``"2.50"``) of rule ``rule`` from now on."""

    sub_ib: int
    rule: str
    amount: str


@dataclass(frozen=True)
class LinkRequest:
    campaign: str = ""


def _refusal(message: str, status_code: int = 400) -> Response[dict[str, Any]]:
    return Response({"status_code": status_code, "detail": message}, status_code=status_code)


def _flatten(node: NodeView, parent_id: int | None = None) -> list[NetworkNode]:
    here = NetworkNode(
        node.partner_id,
        parent_id,
        node.client_id,
        node.rank,
        node.depth,
        node.clients,
        node.own_lots,
        node.branch_lots,
    )
    return [here, *(item for child in node.children for item in _flatten(child, node.partner_id))]


def _link(request: Request[Any, Any, Any], link: ReferralLink) -> LinkAnswer:
    return LinkAnswer(
        link.id,
        link.code,
        link.campaign,
        referral_link_url(request, link.code),
        f"/ib/links/{link.id}/qr.svg",
        link.active,
        link.clicks,
        link.registrations,
        aware(link.created_at),
    )


def _payout(payout: Payout) -> PayoutAnswer:
    return PayoutAnswer(payout.id, payout.currency, payout.amount, payout.status, aware(payout.created_at))


@get("/dashboard", name="ib.api.dashboard", summary="Commission today, this month and this month by level")
async def get_dashboard(request: Request[Any, Any, Any]) -> DashboardAnswer:
    async with app_services(request.app).database.session() as session:
        figures, downline = await dashboard_figures(session, current_partner(request))
    return DashboardAnswer(
        figures.today,
        figures.this_month,
        figures.month_by_level,
        len(downline.partner_ids) - 1,
        len(downline.referred_clients),
    )


@get(
    "/network",
    name="ib.api.network",
    summary="The network as it stands today, lots closed per node",
    dependencies=MONTH_FILTERS,
)
async def get_network(request: Request[Any, Any, Any], dates: NamedDependency[DateRange]) -> NetworkAnswer:
    async with app_services(request.app).database.session() as session:
        downline = await network_today(session, current_partner(request))
        tree = await network_tree(session, downline, dates.window)
    return NetworkAnswer(downline.moment, dates.window.start, dates.window.end, _flatten(tree))


@get(
    "/clients",
    name="ib.api.clients",
    summary="The network's clients and their trading accounts",
    dependencies=MONTH_FILTERS,
)
async def get_clients(
    request: Request[Any, Any, Any], dates: NamedDependency[DateRange], paging: NamedDependency[Paging]
) -> ClientsAnswer:
    async with app_services(request.app).database.session() as session:
        downline = await network_today(session, current_partner(request))
        page = await client_page(session, downline, dates.window, page=paging.page, per_page=paging.per_page)
    return ClientsAnswer(page.items, page.page, page.per_page, page.total)


@get(
    "/clients/{client_id:int}",
    name="ib.api.client",
    summary="One client of the network",
    dependencies=MONTH_FILTERS,
)
async def get_client(
    request: Request[Any, Any, Any], client_id: FromPath[int], dates: NamedDependency[DateRange]
) -> ClientView:
    async with app_services(request.app).database.session() as session:
        return await client_or_404(session, current_partner(request), client_id, dates)


@get("/deals", name="ib.api.deals", summary="The network's deals, newest first", dependencies=FILTERS)
async def get_deals(
    request: Request[Any, Any, Any], deal_filter: NamedDependency[DealFilter], paging: NamedDependency[Paging]
) -> DealsAnswer:
    async with app_services(request.app).database.session() as session:
        downline = await network_today(session, current_partner(request))
        page = await deal_page(session, downline, deal_filter, page=paging.page, per_page=paging.per_page)
    return DealsAnswer(page.items, page.page, page.per_page, page.total)


@get(
    "/commissions",
    name="ib.api.commissions",
    summary="Commission lines with provenance",
    dependencies=FILTERS,
)
async def get_commissions(
    request: Request[Any, Any, Any], line_filter: NamedDependency[LineFilter], paging: NamedDependency[Paging]
) -> LinesAnswer:
    async with app_services(request.app).database.session() as session:
        page, totals = await lines_and_totals(session, current_partner(request), line_filter, paging)
    return LinesAnswer(page.items, page.page, page.per_page, page.total, totals)


@get(
    "/commissions/{deal_id:int}/{rule_id:int}",
    name="ib.api.commission",
    summary="One commission line with provenance: the IB's line of one deal under one rule",
)
async def get_commission(
    request: Request[Any, Any, Any], deal_id: FromPath[int], rule_id: FromPath[int]
) -> LineView:
    async with app_services(request.app).database.session() as session:
        return await line_or_404(session, current_partner(request), deal_id, rule_id)


@get(
    "/statistics",
    name="ib.api.statistics",
    summary="Commission by period, symbol and level",
    dependencies=MONTH_FILTERS,
)
async def get_statistics(
    request: Request[Any, Any, Any], dates: NamedDependency[DateRange], grain: NamedDependency[Grain]
) -> Statistics:
    async with app_services(request.app).database.session() as session:
        return await statistics_over(session, current_partner(request), dates, grain)


@get("/allocations", name="ib.api.allocations", summary="Own per-lot rates and what each direct sub-IB gets")
async def get_allocations(request: Request[Any, Any, Any]) -> AllocationOverview:
    async with app_services(request.app).database.session() as session:
        downline = await network_today(session, current_partner(request))
        return await allocation_overview(session, downline, clock.utcnow())


@post(
    "/allocations",
    name="ib.api.allocations.set",
    status_code=201,
    summary="Give a direct sub-IB part of a rate",
)
async def set_allocation(request: Request[Any, Any, Any], data: JSONBody[AllocationRequest]) -> Response[Any]:
    """``{"sub_ib": 12, "rule": "fixed", "amount": "2.50"}``: the amount per lot, in the scheme's currency."""
    form = {"sub_ib": str(data.sub_ib), "rule": data.rule, "amount": data.amount}
    try:
        made = await allocate_from_now(request, current_partner(request), form)
    except (AllocationError, InvalidAmountError) as exc:
        return _refusal(str(exc))
    body = {
        "sub_ib": made.sub_ib,
        "rule": made.rule_code,
        "amount_per_lot": made.amount_per_lot,
        "effective_from": made.effective_from.isoformat(),
    }
    return Response(body, status_code=201)


@get("/links", name="ib.api.links", summary="Referral links with their click and registration counts")
async def get_links(request: Request[Any, Any, Any]) -> list[LinkAnswer]:
    async with app_services(request.app).database.session() as session:
        links = await partner_links(session, current_partner(request).partner_id)
    return [_link(request, link) for link in links]


@post(
    "/links",
    name="ib.api.links.create",
    status_code=201,
    summary="Create a referral link with a campaign tag",
)
async def create_link(request: Request[Any, Any, Any], data: JSONBody[LinkRequest]) -> Response[Any]:
    """``{"campaign": "forum-2026"}``."""
    try:
        link = await create_partner_link(request, current_partner(request), data.campaign)
    except AttributionError as exc:
        return _refusal(str(exc))
    return Response(_link(request, link), status_code=201)


@get("/payouts", name="ib.api.payouts", summary="Payout mode, what is payable and the payouts made")
async def get_payouts(request: Request[Any, Any, Any]) -> PayoutsAnswer:
    async with app_services(request.app).database.session() as session:
        overview = await payout_overview(session, current_partner(request).partner_id)
    return PayoutsAnswer(
        overview.frequency,
        overview.minimum_amount,
        overview.hold_for_review,
        overview.may_request,
        overview.payable,
        [_payout(payout) for payout in overview.payouts],
    )


@post(
    "/payouts",
    name="ib.api.payouts.request",
    status_code=201,
    responses=api_errors(429),
    summary="Ask for a payout of what is available",
)
async def create_payout(request: Request[Any, Any, Any]) -> Response[Any]:
    """Needs an ``Idempotency-Key`` header; a retry with the same key answers the same payouts."""
    if await over_money_limit(request, "ib_payout"):
        return _refusal(TOO_MANY, 429)
    try:
        made = await request_payout(
            app_services(request.app).database,
            current_partner(request).partner_id,
            actor=current_partner(request).actor,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, ""),
        )
    except PayoutError as exc:
        return _refusal(str(exc))
    return Response([_payout(payout) for payout in made], status_code=201)


router = Router(
    path="/api/v1/ib",
    route_handlers=[
        get_dashboard,
        get_network,
        get_clients,
        get_client,
        get_deals,
        get_commissions,
        get_commission,
        get_statistics,
        get_allocations,
        set_allocation,
        get_links,
        create_link,
        get_payouts,
        create_payout,
    ],
    guards=[requires_sign_in, requires_partner],
    tags=["ib"],
)
