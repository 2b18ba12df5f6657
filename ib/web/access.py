"""Who may see the IB pages: a signed-in client with an approved, active IB profile, and only its
own network. Everything else answers 404, as if the page did not exist."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.money import MoneyFormat
from core.web.auth import load_signed_in
from core.web.state import app_services
from ib.downline import Downline, downline_of
from ib.membership import approved_partner
from ib.models import Scheme
from ledger.fx import currency_scales

STATE_PARTNER = "ib_partner"
NOT_AN_IB = "This page is for introducing brokers."


@dataclass(frozen=True)
class PartnerAccess:
    """The signed-in IB of this request."""

    partner_id: int
    client_id: int

    @property
    def actor(self) -> str:
        """How IB services name this client in the audit log."""
        return f"client:{self.client_id}"


async def load_partner(connection: ASGIConnection[Any, Any, Any, Any]) -> PartnerAccess | None:
    cached = connection.state.get(STATE_PARTNER)
    if isinstance(cached, PartnerAccess):
        return cached
    me = await load_signed_in(connection)
    async with app_services(connection.app).database.session() as session:
        partner = await approved_partner(session, me.user.id)
    if partner is None:
        return None
    access = PartnerAccess(partner.id, partner.client_id)
    connection.state[STATE_PARTNER] = access
    return access


async def requires_partner(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Guard (after sign-in): the client must be an approved IB; anyone else gets a 404."""
    if await load_partner(connection) is None:
        raise NotFoundException(NOT_AN_IB)


def current_partner(request: Request[Any, Any, Any]) -> PartnerAccess:
    """What :func:`requires_partner` loaded; only valid on guarded routes."""
    value = request.state.get(STATE_PARTNER)
    if not isinstance(value, PartnerAccess):
        raise NotFoundException(NOT_AN_IB)
    return value


async def network_today(session: AsyncSession, partner: PartnerAccess) -> Downline:
    """The IB's network as it stands now: what every page and API answer is cut to."""
    return await downline_of(session, partner.partner_id, clock.utcnow())


async def scheme_money(session: AsyncSession) -> MoneyFormat:
    """Formats amounts in the currencies commissions are paid in."""
    currencies = (await session.scalars(select(Scheme.currency).distinct())).all()
    return MoneyFormat(await currency_scales(session, *currencies) if currencies else {})
