"""The reads the IB portal's HTML pages and its JSON API both answer from: one function each, so a
page and its API twin always show the same rows, totals and 404s for the same request."""

from __future__ import annotations

from litestar.exceptions import NotFoundException
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from ib.commission_queries import (
    Dashboard,
    LineFilter,
    LineNotFoundError,
    LineView,
    Statistics,
    Total,
    dashboard,
    get_line,
    line_page,
    line_totals,
    statistics,
)
from ib.downline import Downline
from ib.network_queries import ClientView, NotInNetworkError, network_client
from ib.query_common import Grain, Page
from ib.web.access import PartnerAccess, network_today
from ib.web.filters import DateRange, Paging


async def dashboard_figures(session: AsyncSession, partner: PartnerAccess) -> tuple[Dashboard, Downline]:
    """Commission figures as of now and the network they come from (for the sub-IB and client counts)."""
    figures = await dashboard(session, partner.partner_id, clock.utcnow())
    return figures, await network_today(session, partner)


async def client_or_404(
    session: AsyncSession, partner: PartnerAccess, client_id: int, dates: DateRange
) -> ClientView:
    """One client of the IB's network today; any other client id answers 404."""
    downline = await network_today(session, partner)
    try:
        return await network_client(session, downline, client_id, dates.window)
    except NotInNetworkError:
        raise NotFoundException() from None


async def lines_and_totals(
    session: AsyncSession, partner: PartnerAccess, line_filter: LineFilter, paging: Paging
) -> tuple[Page[LineView], list[Total]]:
    """One page of the IB's commission lines and the totals of every line the filter matches."""
    totals = await line_totals(session, partner.partner_id, line_filter)
    page = await line_page(
        session,
        partner.partner_id,
        line_filter,
        page=paging.page,
        per_page=paging.per_page,
        totals=totals,
    )
    return page, totals


async def line_or_404(session: AsyncSession, partner: PartnerAccess, deal_id: int, rule_id: int) -> LineView:
    """One of the IB's own commission lines; a deal and rule that earned the IB no line answer 404."""
    try:
        return await get_line(session, partner.partner_id, deal_id, rule_id)
    except LineNotFoundError:
        raise NotFoundException() from None


async def statistics_over(
    session: AsyncSession, partner: PartnerAccess, dates: DateRange, grain: Grain
) -> Statistics:
    """Commission by period, symbol and level over the (always closed) month-filter window."""
    window = dates.window
    assert window.start is not None
    assert window.end is not None
    return await statistics(session, partner.partner_id, start=window.start, end=window.end, grain=grain)
