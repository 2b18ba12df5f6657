"""A percentage of the commission the platform charged on the deal, paid to the trader's IB."""

from __future__ import annotations

from decimal import Decimal

from ib.rules.base import Draft, RuleContext, money_in_scheme_currency, text

KIND = "platform_commission_share"


def calculate(context: RuleContext) -> list[Draft]:
    deal = context.deal
    charged = -deal.platform_commission
    if not context.upline or charged <= 0 or not money_in_scheme_currency(context):
        return []
    percent = context.rule.decimal("percent")
    exact = Decimal(charged) * percent / 100
    return [
        Draft(
            context.upline[0],
            exact,
            (("platform_commission", str(charged)), ("percent", text(percent))),
            f"{charged} commission charged * {text(percent)}% = {text(exact)}",
        )
    ]
