"""The IB portal's forms: the application to become an IB, sub-IB rate allocation, referral links
(with their QR code), payout requests, and the public ``/r/<code>`` referral entry.

Handlers read the form, call :mod:`ib`, and answer a redirect with a flash, or the same page with a
message and a 400 when the input is refused (nothing is changed then). Each form carries the CSRF
field; the payout form also carries an idempotency key and is rate-limited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from core import clock
from core.ids import parse_id
from core.money import InvalidAmountError, MoneyFormat, parse_amount
from core.web.auth import (
    SIGN_IN_HANDLERS,
    TOO_MANY,
    client_of,
    new_idempotency_key,
    over_money_limit,
    requires_sign_in,
    signed_in,
)
from core.web.forms import error_text, form_fields
from core.web.state import app_services
from ib import attribution, partners, schemes
from ib.allocation_queries import AllocationOverview, allocation_overview
from ib.errors import AllocationError, ApplicationStateError, AttributionError, PayoutError
from ib.link_queries import LinkNotFoundError, clean_campaign, partner_link, partner_links
from ib.membership import latest_application
from ib.models import ReferralLink
from ib.payout_requests import payout_overview, request_payout
from ib.web.access import (
    PartnerAccess,
    current_partner,
    load_partner,
    network_today,
    requires_partner,
    scheme_money,
)

MAX_LINKS = 50
"""Links one IB may hold: plenty for campaigns, few enough that the page stays readable."""
CLICK_WINDOW_SECONDS = 3600
"""One visitor's repeated opens of one link within this window count as one click."""
SVG_HEADERS = {
    "Cache-Control": "private, max-age=3600",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'",
}


class AllocationLimitError(AllocationError):
    """Raised when the allocation form asks to give more than the IB holds; it keeps the message's
    values apart so the page can translate the sentence and fill them in."""

    MESSAGE = "You hold %(own)s per lot under %(rule)s; you can't give %(amount)s."

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(self.MESSAGE % values)
        self.values = values


@dataclass(frozen=True)
class Allocated:
    """What :func:`allocate_from_now` wrote: the sub-IB, the rule, the per-lot minor units and when."""

    sub_ib: int
    rule_code: str
    amount_per_lot: int
    effective_from: datetime


def referral_link_url(request: Request[Any, Any, Any], code: str) -> str:
    return attribution.referral_url(app_services(request.app).settings.public_portal_url, code)


class IbApplicationController(Controller):
    """A signed-in client without an IB profile asks for one (DESIGN.md §8, issue #8 point 1)."""

    path = "/ib/apply"
    include_in_schema = False
    guards = [requires_sign_in]
    exception_handlers = SIGN_IN_HANDLERS

    async def _page(
        self, request: Request[Any, Any, Any], *, error: str = "", message: str = "", status_code: int = 200
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            application = await latest_application(session, signed_in(request).user.id)
        context = {"application": application, "error": error, "message": message, "section": "apply"}
        return Template("ib/apply.html", context=context, status_code=status_code)

    @get("/", name="ib.apply")
    async def form(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        if await load_partner(request) is not None:
            return Redirect("/ib", status_code=303)
        return await self._page(request)

    @post("/", name="ib.apply.submit")
    async def submit(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        if await load_partner(request) is not None:
            return Redirect("/ib", status_code=303)
        form = await form_fields(request)
        message = form.get("message", "").strip()
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await partners.apply(
                    session, me.user.id, actor=f"client:{me.user.id}", now=clock.utcnow(), message=message
                )
        except ApplicationStateError:
            return await self._page(
                request,
                error="You already have an application waiting for a decision.",
                message=message,
                status_code=400,
            )
        flash(
            request,
            "Your application has been sent. This page shows the decision once our team has made it.",
            category="success",
        )
        return Redirect("/ib/apply", status_code=303)


class IbActionsController(Controller):
    """Allocation, links and payouts of the signed-in IB."""

    path = "/ib"
    include_in_schema = False
    guards = [requires_sign_in, requires_partner]
    exception_handlers = SIGN_IN_HANDLERS

    async def _allocations(
        self,
        request: Request[Any, Any, Any],
        *,
        error: str = "",
        error_args: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            overview = await allocation_overview(
                session, await network_today(session, current_partner(request)), clock.utcnow()
            )
            money = await scheme_money(session)
        context = {
            "overview": overview,
            "money": money,
            "error": error,
            "error_args": error_args or {},
            "form": form or {},
            "section": "allocations",
        }
        return Template("ib/allocations.html", context=context, status_code=status_code)

    @get("/allocations", name="ib.allocations")
    async def allocations(self, request: Request[Any, Any, Any]) -> Template:
        return await self._allocations(request)

    @post("/allocations", name="ib.allocations.submit")
    async def allocate(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        try:
            await allocate_from_now(request, current_partner(request), form)
        except AllocationLimitError as exc:
            return await self._allocations(
                request, error=exc.MESSAGE, error_args=exc.values, form=form, status_code=400
            )
        except (AllocationError, InvalidAmountError) as exc:
            return await self._allocations(request, error=error_text(exc), form=form, status_code=400)
        flash(request, "The sub-IB's rate has been set from now on.", category="success")
        return Redirect("/ib/allocations", status_code=303)

    async def _links(
        self, request: Request[Any, Any, Any], *, error: str = "", status_code: int = 200
    ) -> Template:
        partner = current_partner(request)
        async with app_services(request.app).database.session() as session:
            links = await partner_links(session, partner.partner_id)
        context = {
            "links": [(link, referral_link_url(request, link.code)) for link in links],
            "error": error,
            "max_links": MAX_LINKS,
            "section": "links",
        }
        return Template("ib/links.html", context=context, status_code=status_code)

    @get("/links", name="ib.links")
    async def links(self, request: Request[Any, Any, Any]) -> Template:
        return await self._links(request)

    @post("/links", name="ib.links.create")
    async def create_link(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        try:
            await create_partner_link(request, current_partner(request), form.get("campaign", ""))
        except AttributionError as exc:
            return await self._links(request, error=error_text(exc), status_code=400)
        flash(request, "Your new referral link is ready.", category="success")
        return Redirect("/ib/links", status_code=303)

    @get("/links/{link_id:int}/qr.svg", name="ib.links.qr")
    async def link_qr(self, request: Request[Any, Any, Any], link_id: FromPath[int]) -> Response[str]:
        async with app_services(request.app).database.session() as session:
            try:
                link = await partner_link(session, current_partner(request).partner_id, link_id)
            except LinkNotFoundError:
                raise NotFoundException() from None
        svg = attribution.qr_svg(referral_link_url(request, link.code))
        return Response(svg, media_type="image/svg+xml", headers=SVG_HEADERS)

    async def _payouts(
        self, request: Request[Any, Any, Any], *, error: str = "", status_code: int = 200
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            overview = await payout_overview(session, current_partner(request).partner_id)
            money = await scheme_money(session)
        context = {
            "overview": overview,
            "money": money,
            "error": error,
            "idempotency_key": new_idempotency_key(),
            "section": "payouts",
        }
        return Template("ib/payouts.html", context=context, status_code=status_code)

    @get("/payouts", name="ib.payouts")
    async def payouts(self, request: Request[Any, Any, Any]) -> Template:
        return await self._payouts(request)

    @post("/payouts", name="ib.payouts.request")
    async def ask_for_payout(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        if await over_money_limit(request, "ib_payout"):
            return await self._payouts(request, error=TOO_MANY, status_code=429)
        try:
            made = await request_payout(
                app_services(request.app).database,
                current_partner(request).partner_id,
                actor=current_partner(request).actor,
                idempotency_key=form.get("idempotency_key", ""),
            )
        except PayoutError as exc:
            return await self._payouts(request, error=error_text(exc), status_code=400)
        held = any(payout.status == "held" for payout in made)
        flash(
            request,
            "Your payout is waiting for review." if held else "Your commission has been paid to your wallet.",
            category="success",
        )
        return Redirect("/ib/payouts", status_code=303)


class ReferralController(Controller):
    """``/r/<code>``: a referral link as visitors open it. The click is counted (once per visitor
    and hour) and the visitor goes on to registration with the code filled in."""

    include_in_schema = False

    @get("/r/{code:str}", name="ib.referral")
    async def open_link(self, request: Request[Any, Any, Any], code: FromPath[str]) -> Redirect:
        services = app_services(request.app)
        code = code.strip().upper()[:32]
        window = await services.rate_limiter.hit(
            f"ib:click:{code}:{client_of(request).ip}", CLICK_WINDOW_SECONDS
        )
        try:
            async with services.database.transaction() as session:
                link = await attribution.active_link(session, code)
                if window.count == 1:
                    await attribution.record_click(session, code)
        except AttributionError:
            return Redirect("/register", status_code=303)
        return Redirect(f"/register?ref={link.code}", status_code=303)


def read_allocation(
    form: dict[str, str], overview: AllocationOverview, money: MoneyFormat
) -> tuple[int, str, int]:
    """The allocation form as (sub-IB, rule, per-lot minor units), checked against what the IB holds,
    with a message in the IB's money when it asks for more (the service checks again when it writes)."""
    raw_receiver = form.get("sub_ib", "")
    receiver = parse_id(raw_receiver) or 0
    if receiver not in overview.sub_ibs:
        raise AllocationError("Choose one of your direct sub-IBs.")
    rate = next((r for r in overview.rates if r.rule_code == form.get("rule", "")), None)
    if rate is None or overview.currency is None:
        raise AllocationError("Choose one of the per-lot rules of your scheme.")
    amount = parse_amount(form.get("amount", ""), money.scales.get(overview.currency, 2), allow_zero=True)
    if amount > rate.own_per_lot:
        raise AllocationLimitError(
            {
                "own": money(rate.own_per_lot, overview.currency),
                "rule": rate.rule_code,
                "amount": money(amount, overview.currency),
            }
        )
    return receiver, rate.rule_code, amount


async def allocate_from_now(
    request: Request[Any, Any, Any], partner: PartnerAccess, form: dict[str, str]
) -> Allocated:
    """Reads the allocation form (:func:`read_allocation`) against what the IB holds now and gives
    the sub-IB that rate from now on; raises :class:`AllocationError` or ``InvalidAmountError``
    (nothing written) when the form is refused."""
    now = clock.utcnow()
    async with app_services(request.app).database.session() as session:
        overview = await allocation_overview(session, await network_today(session, partner), now)
        money = await scheme_money(session)
    receiver, rule_code, amount = read_allocation(form, overview, money)
    async with app_services(request.app).database.transaction() as session:
        await schemes.set_allocation(
            session,
            partner.partner_id,
            receiver,
            rule_code=rule_code,
            amount_per_lot=amount,
            effective_from=now,
            actor=partner.actor,
            now=now,
        )
    return Allocated(receiver, rule_code, amount, now)


async def create_partner_link(
    request: Request[Any, Any, Any], partner: PartnerAccess, raw_campaign: str
) -> ReferralLink:
    """A new referral link for the IB with a campaign tag; refused past :data:`MAX_LINKS`."""
    campaign = clean_campaign(raw_campaign)
    async with app_services(request.app).database.transaction() as session:
        if len(await partner_links(session, partner.partner_id)) >= MAX_LINKS:
            raise AttributionError(f"You have {MAX_LINKS} links already; reuse one of them.")
        return await attribution.create_link(
            session, partner.partner_id, campaign=campaign, actor=partner.actor, now=clock.utcnow()
        )
