"""Per level: an amount per lot for level 1, 2, 3, … above the trader."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from ib.rounding import as_minor
from ib.rules.base import EXPLANATIONS_REMEMBERED, Draft, Inputs, RuleContext, text

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
        drafts.append(Draft(member, *_explain(lots, member.level, rate)))
    return drafts


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _explain(lots: Decimal, level: int, rate: int) -> tuple[Decimal, Inputs, str]:
    """The exact amount and its provenance; remembered, because lots and rates repeat across deals."""
    exact = lots * Decimal(rate)
    inputs = (("lots", text(lots)), ("level", str(level)), ("amount_per_lot", str(rate)))
    return exact, inputs, f"level {level}: {text(lots)} lots * {rate} per lot = {text(exact)}"
