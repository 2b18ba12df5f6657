"""Fixed per lot, with sub-IB allocation: the direct IB earns a fixed amount per closed lot.

When an IB has passed part of its rate under this rule's code to a sub-IB, the rate cascades:
the trader's IB earns what was allocated to it, each IB above earns its own rate minus what it
gave away, and the first IB that received no allocation holds the scheme's rate. An allocation is
clamped to the giver's own rate, so an IB can never hand out more than it has.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from ib.rules.base import EXPLANATIONS_REMEMBERED, Draft, Inputs, RuleContext, text

KIND = "fixed"


def calculate(context: RuleContext) -> list[Draft]:
    rate = context.rule.minor("amount_per_lot")
    lots = context.deal.lots
    upline = context.upline
    if not upline:
        return []
    # Walk up while each IB received an allocation from its parent under this rule code.
    received: list[int | None] = []
    for index, member in enumerate(upline):
        parent = upline[index + 1] if index + 1 < len(upline) else None
        amount = (
            None
            if parent is None
            else context.network.allocation(
                parent.partner_id, member.partner_id, context.rule.code, context.deal.time
            )
        )
        received.append(amount)
        if amount is None:
            break
    # received[k] is member k's own rate if set; the last entry is None: that member holds the scheme rate.
    own_rates: list[int] = []
    ceiling = rate
    for amount in reversed(received):
        own = ceiling if amount is None else min(amount, ceiling)
        own_rates.append(own)
        ceiling = own
    own_rates.reverse()
    drafts: list[Draft] = []
    for index, own in enumerate(own_rates):
        given = own_rates[index - 1] if index > 0 else 0
        sub_ib = upline[index - 1].partner_id if index > 0 else None
        drafts.append(Draft(upline[index], *_explain(lots, rate, own, given, sub_ib)))
    return drafts


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _explain(
    lots: Decimal, rate: int, own: int, given: int, sub_ib: int | None
) -> tuple[Decimal, Inputs, str]:
    """The exact amount and its provenance; remembered, because lots and rates repeat across deals."""
    keep = own - given
    if sub_ib is None:
        formula = f"{text(lots)} lots * {own} per lot = {text(lots * own)}"
    else:
        formula = (
            f"{text(lots)} lots * ({own} own rate - {given} allocated to sub-IB"
            f" {sub_ib}) = {text(lots * keep)}"
        )
    inputs = (
        ("lots", text(lots)),
        ("scheme_rate", str(rate)),
        ("own_rate", str(own)),
        ("allocated_down", str(given)),
    )
    return lots * Decimal(keep), inputs, formula
