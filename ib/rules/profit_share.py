"""A percentage of the deal's profit (``basis: profit``, the default) or of its loss (``basis: loss``)."""

from __future__ import annotations

from decimal import Decimal

from ib.rules.base import (
    DealFacts,
    Draft,
    Inputs,
    PlanTerms,
    RuleContext,
    finished,
    money_in_scheme_currency,
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


def explain(deal: DealFacts, basis: str, percent: Decimal) -> tuple[int, Inputs, str]:
    """The trader's IB's finished line for ``deal``; an amount of 0 when there is no such profit (loss)."""
    return finished(_exact(deal, basis, percent))


def _exact(deal: DealFacts, basis: str, percent: Decimal) -> tuple[Decimal, Inputs, str] | None:
    base = deal.profit if basis == "profit" else -deal.profit
    if base <= 0:
        return None
    exact = Decimal(base) * percent / 100
    return (
        exact,
        ((basis, str(base)), ("percent", text(percent))),
        f"{base} {basis} * {text(percent)}% = {text(exact)}",
    )
