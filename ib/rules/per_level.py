"""Per level: an amount per lot for level 1, 2, 3, … above the trader."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from ib.rounding import as_minor
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

KIND = "per_level"


def calculate(context: RuleContext) -> list[Draft]:
    return planned_drafts(context, terms, _exact)


def _exact(deal: DealFacts, *arguments: Any) -> tuple[Decimal, Inputs, str]:
    return _explain(deal.lots, *arguments)


def terms(context: RuleContext) -> PlanTerms:
    """Each paid member's (level, amount per lot)."""
    amounts = context.rule.params.get("amounts_per_lot")
    if not isinstance(amounts, list):
        raise ValueError(f"rule {context.rule.code}: amounts_per_lot must be a list, level 1 first")
    out: PlanTerms = []
    for member in context.upline:
        if member.level > len(amounts):
            break
        rate = as_minor(amounts[member.level - 1], f"rule {context.rule.code}: level {member.level}")
        if rate == 0:
            continue
        out.append((member, (member.level, rate)))
    return out


def amount(deal: DealFacts, level: int, rate: int) -> int:
    """What :func:`explain` pays, without the explanation (see :class:`ib.rules.base.Deferred`)."""
    return per_lot_amount(deal.lots, rate)


def explain(deal: DealFacts, level: int, rate: int) -> tuple[int, Inputs, str]:
    """One member's finished line for ``deal`` (see :data:`ib.rules.PLANNED_RULES`)."""
    return _finished(deal.lots, level, rate)


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _finished(*arguments: Any) -> tuple[int, Inputs, str]:
    return rounded_explanation(*_explain(*arguments))


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _explain(lots: Decimal, level: int, rate: int) -> tuple[Decimal, Inputs, str]:
    """The exact amount and its provenance; remembered, because lots and rates repeat across deals."""
    exact = per_lot_exact(lots, rate)
    inputs = (("lots", text(lots)), ("level", str(level)), ("amount_per_lot", str(rate)))
    return exact, inputs, f"level {level}: {text(lots)} lots * {rate} per lot = {text(exact)}"
