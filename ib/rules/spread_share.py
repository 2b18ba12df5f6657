"""Spread share: a percentage of the spread the client paid, priced from the symbol's digits and size.

``spread_points`` is the spread (or mark-up) in points charged on the rule's account type and
symbols. One point is ``10^-digits`` of the quote currency per unit, so the spread's value is
``points * 10^-digits * contract size * lots`` in the quote currency; ``quote_to_account`` converts it
(1 when the account currency is the quote currency, the usual case for xxxUSD on USD accounts).
"""

from __future__ import annotations

from decimal import Decimal

from ib.rules.base import Draft, RuleContext, money_in_scheme_currency, text

KIND = "spread_share"


def calculate(context: RuleContext) -> list[Draft]:
    deal = context.deal
    if not context.upline or deal.symbol_digits is None or not money_in_scheme_currency(context):
        return []
    points = context.rule.decimal("spread_points")
    percent = context.rule.decimal("percent")
    rate = context.rule.decimal("quote_to_account", "1")
    point = Decimal(1).scaleb(-deal.symbol_digits)
    spread_value = points * point * deal.contract_size * deal.lots * rate
    spread_minor = spread_value.scaleb(deal.currency_digits)
    exact = spread_minor * percent / 100
    member = context.upline[0]
    return [
        Draft(
            member,
            exact,
            {
                "lots": text(deal.lots),
                "spread_points": text(points),
                "digits": str(deal.symbol_digits),
                "contract_size": text(deal.contract_size),
                "quote_to_account": text(rate),
                "percent": text(percent),
            },
            f"{text(points)} points * {text(point)} * {text(deal.contract_size)} * {text(deal.lots)} lots"
            f" * {text(rate)} = {text(spread_minor)} minor; * {text(percent)}% = {text(exact)}",
        )
    ]
