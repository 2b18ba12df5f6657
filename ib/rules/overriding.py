"""Overriding: an IB earns a percentage of what its direct sub-IB earned on the same deal.

It is computed from the other rules' finished (rounded, capped) lines: a line at level ``k`` gives
the IB at level ``k + 1`` ``percent`` of its amount. Overriding lines do not themselves override.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

from ib.rules.base import (
    EXPLANATIONS_REMEMBERED,
    DealFacts,
    Draft,
    Inputs,
    Line,
    Member,
    RuleSpec,
    percent_exact,
    rounded_explanation,
    text,
)

KIND = "overriding"

Earned = tuple[tuple[int, str], ...]
"""What one sub-IB earned on the deal: (amount, rule code) per line."""


def terms(upline: Sequence[Member], lines: Sequence[Line]) -> list[tuple[Member, Earned, int]]:
    """Each overriding member, what its direct sub-IB earned on the deal, and that sub-IB."""
    by_level = {member.level: member for member in upline}
    earned: dict[int, list[tuple[int, str]]] = {}
    downline: dict[int, int] = {}
    for line in lines:
        if line.amount <= 0 or line.kind == KIND:
            continue
        level = line.level + 1
        if level in by_level:
            found = earned.get(level)
            if found is None:
                earned[level] = [(line.amount, line.rule_code)]
                downline[level] = line.beneficiary_id
            else:
                found.append((line.amount, line.rule_code))
    return [(by_level[level], tuple(earned[level]), downline[level]) for level in sorted(earned)]


def exact(earned: Earned, percent: Decimal) -> Decimal:
    return percent_exact(sum(amount for amount, _code in earned), percent)


def calculate(rule: RuleSpec, upline: Sequence[Member], lines: Sequence[Line]) -> list[Draft]:
    """The drafts, explained (for a capped rule, whose cap notes join the formula)."""
    percent = rule.decimal("percent")
    return [
        Draft(member, *_explain(earned, downline, percent))
        for member, earned, downline in terms(upline, lines)
    ]


def explain(
    _deal: DealFacts | None, earned: Earned, downline: int, percent: Decimal
) -> tuple[int, Inputs, str]:
    """One member's finished line (see :class:`ib.rules.base.Deferred`); the deal is not needed."""
    return _finished(earned, downline, percent)


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _finished(earned: Earned, downline: int, percent: Decimal) -> tuple[int, Inputs, str]:
    return rounded_explanation(*_explain(earned, downline, percent))


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _explain(earned: Earned, downline: int, percent: Decimal) -> tuple[Decimal, Inputs, str]:
    """The exact amount and its provenance; remembered, because a sub-IB's earnings repeat."""
    base = sum(amount for amount, _code in earned)
    value = exact(earned, percent)
    listing = " + ".join(f"{amount} ({code})" for amount, code in earned)
    inputs = (("downline_partner", str(downline)), ("downline_earned", str(base)), ("percent", text(percent)))
    return value, inputs, f"sub-IB {downline} earned {listing} = {base}; * {text(percent)}% = {text(value)}"
