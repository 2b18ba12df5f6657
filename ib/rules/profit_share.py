"""A percentage of the deal's profit (``basis: profit``, the default) or of its loss (``basis: loss``)."""

from __future__ import annotations

from decimal import Decimal

from ib.rounding import round_commission_down
from ib.rules.base import (
    DealFacts,
    Draft,
    Inputs,
    PlanTerms,
    RuleContext,
    finished,
    money_in_scheme_currency,
    percent_exact,
    planned_drafts,
    text,
)

KIND = "profit_share"


def calculate(context: RuleContext) -> list[Draft]:
    return planned_drafts(context, terms, _exact)


def terms(context: RuleContext) -> PlanTerms:
    """The trader's IB's (basis, percent); nothing when the account's currency is not the scheme's."""
    basis = context.rule.params.get("basis", "profit")
    if basis not in ("profit", "loss"):
        raise ValueError(f"rule {context.rule.code}: basis must be profit or loss")
    if not context.upline or not money_in_scheme_currency(context):
        return []
    return [(context.upline[0], (basis, context.rule.decimal("percent")))]


def amount(deal: DealFacts, basis: str, percent: Decimal) -> int:
    """What :func:`explain` pays, without the explanation (see :class:`ib.rules.base.Deferred`)."""
    base = deal.profit if basis == "profit" else -deal.profit
    return round_commission_down(percent_exact(base, percent)) if base > 0 else 0


def explain(deal: DealFacts, basis: str, percent: Decimal) -> tuple[int, Inputs, str]:
    """The trader's IB's finished line for ``deal``; an amount of 0 when there is no such profit (loss)."""
    return finished(_exact(deal, basis, percent))


def _exact(deal: DealFacts, basis: str, percent: Decimal) -> tuple[Decimal, Inputs, str] | None:
    base = deal.profit if basis == "profit" else -deal.profit
    if base <= 0:
        return None
    exact = percent_exact(base, percent)
    return (
        exact,
        ((basis, str(base)), ("percent", text(percent))),
        f"{base} {basis} * {text(percent)}% = {text(exact)}",
    )
