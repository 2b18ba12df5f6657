"""Rule calculators, one module per rule type, and the registry the calculation core dispatches on."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ib.rules import (
    cpa,
    fixed,
    overriding,
    per_level,
    platform_commission,
    profit_share,
    rank_differential,
    spread_share,
)
from ib.rules.base import Amount, Calculator, Explain, PlanTerms, RuleContext

DEAL_CALCULATORS: Mapping[str, Calculator] = {
    fixed.KIND: fixed.calculate,
    per_level.KIND: per_level.calculate,
    rank_differential.KIND: rank_differential.calculate,
    spread_share.KIND: spread_share.calculate,
    platform_commission.KIND: platform_commission.calculate,
    profit_share.KIND: profit_share.calculate,
    cpa.KIND: cpa.calculate,
}
"""Rules computed from the deal itself."""

PLANNED_RULES: Mapping[str, tuple[Callable[[RuleContext], PlanTerms], Amount, Explain]] = {
    fixed.KIND: (fixed.terms, fixed.amount, fixed.explain),
    per_level.KIND: (per_level.terms, per_level.amount, per_level.explain),
    rank_differential.KIND: (rank_differential.terms, rank_differential.amount, rank_differential.explain),
    spread_share.KIND: (spread_share.terms, spread_share.amount, spread_share.explain),
    platform_commission.KIND: (
        platform_commission.terms,
        platform_commission.amount,
        platform_commission.explain,
    ),
    profit_share.KIND: (profit_share.terms, profit_share.amount, profit_share.explain),
}
"""Rules whose lines depend on the route and target and on the deal's own figures (lots, symbol,
platform commission, profit), never on the trader's history: ``terms`` runs once per route and
target, ``amount`` once per line, and ``explain`` only when the line's provenance is asked for
(see :mod:`ib.calculation` and :class:`ib.rules.base.Deferred`)."""

OVERRIDING = overriding.KIND
"""Computed last, from the other rules' lines."""

RULE_KINDS: frozenset[str] = frozenset({*DEAL_CALCULATORS, OVERRIDING})
