"""Spread share: a percentage of the spread the client paid, priced from the symbol's digits and size.

``spread_points`` is the spread (or mark-up) in points charged on the rule's account type and
symbols. One point is ``10^-digits`` of the quote currency per unit, so the spread's value is
``points * 10^-digits * contract size * lots`` in the quote currency; ``quote_to_account`` converts it
(1 when the account currency is the quote currency, the usual case for xxxUSD on USD accounts).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from ib.rounding import round_commission_down
from ib.rules.base import (
    EXPLANATIONS_REMEMBERED,
    DealFacts,
    Draft,
    Inputs,
    PlanTerms,
    RuleContext,
    money_in_scheme_currency,
    planned_drafts,
    rounded_explanation,
    text,
)

KIND = "spread_share"


def calculate(context: RuleContext) -> list[Draft]:
    return planned_drafts(context, terms, _exact)


def terms(context: RuleContext) -> PlanTerms:
    """The trader's IB's (spread points, percent, quote-to-account rate); nothing when the symbol's
    digits are unknown or the account's currency is not the scheme's."""
    deal = context.deal
    if not context.upline or deal.symbol_digits is None or not money_in_scheme_currency(context):
        return []
    points = context.rule.decimal("spread_points")
    percent = context.rule.decimal("percent")
    rate = context.rule.decimal("quote_to_account", "1")
    return [(context.upline[0], (points, percent, rate))]


def amount(deal: DealFacts, points: Decimal, percent: Decimal, rate: Decimal) -> int:
    """What :func:`explain` pays, without the explanation (see :class:`ib.rules.base.Deferred`)."""
    assert deal.symbol_digits is not None  # terms() pays nothing without them
    return round_commission_down(
        _spread_exact(
            points, percent, rate, deal.symbol_digits, deal.contract_size, deal.lots, deal.currency_digits
        )[2]
    )


def explain(deal: DealFacts, points: Decimal, percent: Decimal, rate: Decimal) -> tuple[int, Inputs, str]:
    """The trader's IB's finished line for ``deal`` (see :data:`ib.rules.PLANNED_RULES`)."""
    assert deal.symbol_digits is not None  # terms() pays nothing without them
    return _finished(
        points, percent, rate, deal.symbol_digits, deal.contract_size, deal.lots, deal.currency_digits
    )


def _exact(deal: DealFacts, points: Decimal, percent: Decimal, rate: Decimal) -> tuple[Decimal, Inputs, str]:
    assert deal.symbol_digits is not None  # terms() pays nothing without them
    return _explain(
        points, percent, rate, deal.symbol_digits, deal.contract_size, deal.lots, deal.currency_digits
    )


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _finished(*arguments: Any) -> tuple[int, Inputs, str]:
    return rounded_explanation(*_explain(*arguments))


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _spread_exact(
    points: Decimal,
    percent: Decimal,
    rate: Decimal,
    digits: int,
    contract_size: Decimal,
    lots: Decimal,
    currency_digits: int,
) -> tuple[Decimal, Decimal, Decimal]:
    """The point's size, the spread's value in minor units and the exact share of it; remembered,
    because lots and symbols repeat across deals."""
    point = Decimal(1).scaleb(-digits)
    spread_value = points * point * contract_size * lots * rate
    spread_minor = spread_value.scaleb(currency_digits)
    return point, spread_minor, spread_minor * percent / 100


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _explain(*arguments: Any) -> tuple[Decimal, Inputs, str]:
    """The exact amount and its provenance, for :func:`_spread_exact`'s arguments; remembered,
    because lots and symbols repeat across deals."""
    points, percent, rate, digits, contract_size, lots, _currency_digits = arguments
    point, spread_minor, exact = _spread_exact(*arguments)
    inputs = (
        ("lots", text(lots)),
        ("spread_points", text(points)),
        ("digits", str(digits)),
        ("contract_size", text(contract_size)),
        ("quote_to_account", text(rate)),
        ("percent", text(percent)),
    )
    formula = (
        f"{text(points)} points * {text(point)} * {text(contract_size)} * {text(lots)} lots"
        f" * {text(rate)} = {text(spread_minor)} minor; * {text(percent)}% = {text(exact)}"
    )
    return exact, inputs, formula
