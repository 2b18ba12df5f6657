"""CPA: a fixed amount, once per referred client, on the deal at which the client qualifies.

A client qualifies when its first deposit reached ``min_first_deposit`` (in the scheme currency)
and its closed lots reached ``min_lots``. The amount goes to the client's IB at that moment. A deal
pays CPA only if the client was not already qualified at its previous trade, and never twice.
"""

from __future__ import annotations

from decimal import Decimal

from ib.rules.base import Draft, RuleContext, text

KIND = "cpa"


def calculate(context: RuleContext) -> list[Draft]:
    deal, history = context.deal, context.history
    if not context.upline or history.cpa_already_paid:
        return []
    amount = context.rule.minor("amount")
    min_deposit = context.rule.minor("min_first_deposit")
    min_lots = context.rule.decimal("min_lots")
    deposit = history.first_deposit
    deposited_at = history.first_deposit_at
    if (
        deposit is None
        or deposited_at is None
        or history.first_deposit_currency != context.version.currency
        or deposit < min_deposit
        or deposited_at > deal.time
    ):
        return []
    lots_after = history.lots_before + deal.lots
    if lots_after < min_lots:
        return []
    was_qualified = (
        history.lots_before >= min_lots
        and history.last_trade_at is not None
        and deposited_at <= history.last_trade_at
    )
    if was_qualified:
        return []
    return [
        Draft(
            context.upline[0],
            Decimal(amount),
            (
                ("first_deposit", str(deposit)),
                ("min_first_deposit", str(min_deposit)),
                ("lots_before", text(history.lots_before)),
                ("lots_after", text(lots_after)),
                ("min_lots", text(min_lots)),
                ("amount", str(amount)),
            ),
            f"qualified: deposit {deposit} ≥ {min_deposit} and lots {text(lots_after)} ≥ {text(min_lots)};"
            f" CPA {amount}",
        )
    ]
