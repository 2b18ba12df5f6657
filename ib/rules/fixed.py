"""Fixed per lot, with sub-IB allocation: the direct IB earns a fixed amount per closed lot.

When an IB has passed part of its rate under this rule's code to a sub-IB, the rate cascades:
the trader's IB earns what was allocated to it, each IB above earns its own rate minus what it
gave away, and the first IB that received no allocation holds the scheme's rate. An allocation is
clamped to the giver's own rate, so an IB can never hand out more than it has.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from ib.rules.base import (
    EXPLANATIONS_REMEMBERED,
    DealFacts,
    Draft,
    Inputs,
    PlanTerms,
    RuleContext,
    per_lot_amount,
    per_lot_exact,
    planned_drafts,
    rounded_explanation,
    text,
)

KIND = "fixed"


def calculate(context: RuleContext) -> list[Draft]:
    return planned_drafts(context, terms, _exact)


def _exact(deal: DealFacts, *arguments: Any) -> tuple[Decimal, Inputs, str]:
    return _explain(deal.lots, *arguments)


def terms(context: RuleContext) -> PlanTerms:
    """Each upline member's (scheme rate, own rate, rate given to its sub-IB, that sub-IB): all the
    line needs but the deal's lots, the same for every deal of one route."""
    rate = context.rule.minor("amount_per_lot")
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
    out: PlanTerms = []
    for index, own in enumerate(own_rates):
        given = own_rates[index - 1] if index > 0 else 0
        sub_ib = upline[index - 1].partner_id if index > 0 else None
        out.append((upline[index], (rate, own, given, sub_ib)))
    return out


def amount(deal: DealFacts, rate: int, own: int, given: int, sub_ib: int | None) -> int:
    """What :func:`explain` pays, without the explanation (see :class:`ib.rules.base.Deferred`)."""
    return per_lot_amount(deal.lots, own - given)


def explain(deal: DealFacts, rate: int, own: int, given: int, sub_ib: int | None) -> tuple[int, Inputs, str]:
    """One member's finished line for ``deal`` (see :data:`ib.rules.PLANNED_RULES`)."""
    return _finished(deal.lots, rate, own, given, sub_ib)


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _finished(*arguments: Any) -> tuple[int, Inputs, str]:
    return rounded_explanation(*_explain(*arguments))


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
    return per_lot_exact(lots, keep), inputs, formula
