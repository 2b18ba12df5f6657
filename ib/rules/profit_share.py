"""A percentage of the deal's profit (``basis: profit``, the default) or of its loss (``basis: loss``)."""

from __future__ import annotations

from decimal import Decimal

from ib.rules.base import Draft, RuleContext, money_in_scheme_currency, text

KIND = "profit_share"


def calculate(context: RuleContext) -> list[Draft]:
    deal = context.deal
    basis = context.rule.params.get("basis", "profit")
    if basis not in ("profit", "loss"):
        raise ValueError(f"rule {context.rule.code}: basis must be profit or loss")
    base = deal.profit if basis == "profit" else -deal.profit
    if not context.upline or base <= 0 or not money_in_scheme_currency(context):
        return []
    percent = context.rule.decimal("percent")
    exact = Decimal(base) * percent / 100
    return [
        Draft(
            context.upline[0],
            exact,
            ((basis, str(base)), ("percent", text(percent))),
            f"{base} {basis} * {text(percent)}% = {text(exact)}",
        )
    ]
