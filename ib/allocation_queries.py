"""What an IB may pass on to its direct sub-IBs: its own per-lot rate under each ``fixed`` rule of its
scheme, and what it gives each sub-IB today. The limit itself is enforced by
:func:`ib.schemes.set_allocation`; this module only reads, so the form can show the numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ib.downline import Downline
from ib.models import Allocation, Rule, Scheme
from ib.schemes import own_rate, per_lot_amount, version_in_force


@dataclass(frozen=True)
class RateView:
    """One ``fixed`` rule: the IB's own per-lot amount, and what it gives each direct sub-IB."""

    rule_code: str
    own_per_lot: int
    given: dict[int, int] = field(default_factory=dict)
    """sub-IB partner id -> per-lot amount allocated (absent: nothing allocated)."""


@dataclass(frozen=True)
class AllocationOverview:
    currency: str | None
    sub_ibs: list[int]
    """Partner ids of the direct sub-IBs today."""
    rates: list[RateView]


async def allocation_overview(
    session: AsyncSession, downline: Downline, moment: datetime
) -> AllocationOverview:
    partner_id = downline.partner_id
    sub_ibs = sorted(child.partner_id for child in downline.root.children)
    version = await version_in_force(session, partner_id, moment)
    if version is None:
        return AllocationOverview(None, sub_ibs, [])
    currency = await session.scalar(select(Scheme.currency).where(Scheme.id == version.scheme_id))
    rules = (
        await session.scalars(
            select(Rule).where(Rule.scheme_version_id == version.id, Rule.kind == "fixed").order_by(Rule.code)
        )
    ).all()
    latest: dict[tuple[int, str], int] = {}
    for receiver, code, amount in await session.execute(
        select(Allocation.receiver_id, Allocation.rule_code, Allocation.amount_per_lot)
        .where(Allocation.giver_id == partner_id, Allocation.effective_from <= moment)
        .order_by(Allocation.effective_from)
    ):
        latest[(receiver, code)] = amount
    rates = []
    for rule in rules:
        if per_lot_amount(rule) is None:
            continue
        own = await own_rate(session, partner_id, rule.code, moment)
        given = {sub: latest[(sub, rule.code)] for sub in sub_ibs if (sub, rule.code) in latest}
        rates.append(RateView(rule.code, own or 0, given))
    return AllocationOverview(currency, sub_ibs, rates)
