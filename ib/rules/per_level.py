"""Per level: an amount per lot for level 1, 2, 3, … above the trader."""

from __future__ import annotations

from decimal import Decimal

from ib.rounding import as_minor
from ib.rules.base import Draft, RuleContext, text

KIND = "per_level"


def calculate(context: RuleContext) -> list[Draft]:
    amounts = context.rule.params.get("amounts_per_lot")
    if not isinstance(amounts, list):
        raise ValueError(f"rule {context.rule.code}: amounts_per_lot must be a list, level 1 first")
    lots = context.deal.lots
    drafts: list[Draft] = []
    for member in context.upline:
        if member.level > len(amounts):
            break
        rate = as_minor(amounts[member.level - 1], f"rule {context.rule.code}: level {member.level}")
        if rate == 0:
            continue
        drafts.append(
            Draft(
                member,
                lots * Decimal(rate),
                {"lots": text(lots), "level": str(member.level), "amount_per_lot": str(rate)},
                f"level {member.level}: {text(lots)} lots * {rate} per lot = {text(lots * rate)}",
            )
        )
    return drafts
