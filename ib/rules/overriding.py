"""Overriding: an IB earns a percentage of what its direct sub-IB earned on the same deal.

It is computed from the other rules' finished (rounded, capped) lines: a line at level ``k`` gives
the IB at level ``k + 1`` ``percent`` of its amount. Overriding lines do not themselves override.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

from ib.rules.base import EXPLANATIONS_REMEMBERED, Draft, Inputs, Line, Member, RuleSpec, text

KIND = "overriding"


def calculate(rule: RuleSpec, upline: Sequence[Member], lines: Sequence[Line]) -> list[Draft]:
    percent = rule.decimal("percent")
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
    return [
        Draft(by_level[level], *_explain(tuple(earned[level]), downline[level], percent))
        for level in sorted(earned)
    ]


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _explain(
    earned: tuple[tuple[int, str], ...], downline: int, percent: Decimal
) -> tuple[Decimal, Inputs, str]:
    """The exact amount and its provenance; remembered, because a sub-IB's earnings repeat."""
    base = sum(amount for amount, _code in earned)
    exact = Decimal(base) * percent / 100
    listing = " + ".join(f"{amount} ({code})" for amount, code in earned)
    inputs = (("downline_partner", str(downline)), ("downline_earned", str(base)), ("percent", text(percent)))
    return exact, inputs, f"sub-IB {downline} earned {listing} = {base}; * {text(percent)}% = {text(exact)}"
