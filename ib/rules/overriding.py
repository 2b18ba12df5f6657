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
    totals: dict[int, list[Line]] = {}
    for line in lines:
        if line.kind == KIND or line.amount <= 0:
            continue
        parent = by_level.get(line.level + 1)
        if parent is not None:
            totals.setdefault(parent.level, []).append(line)
    drafts: list[Draft] = []
    for level, sources in sorted(totals.items()):
        earned = tuple((line.amount, line.rule_code) for line in sources)
        drafts.append(Draft(by_level[level], *_explain(earned, sources[0].beneficiary_id, percent)))
    return drafts


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
