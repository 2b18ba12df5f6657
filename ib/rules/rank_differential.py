"""Rank differential: each rank's per-lot increment goes to the nearest upline at or above that rank.

With increments Bronze 3, Silver 2, Gold 1 per lot and an upline Bronze → Gold, the Bronze IB gets
3 and the Gold IB gets 2 + 1: the Silver increment found no Silver IB below the Gold one, so the
nearest IB at or above Silver (the Gold one) takes it. An IB holding several increments gets one
line that lists them.
"""

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
    Member,
    PlanTerms,
    RuleContext,
    per_lot_amount,
    per_lot_exact,
    planned_drafts,
    rounded_explanation,
    text,
)

KIND = "rank_differential"


def calculate(context: RuleContext) -> list[Draft]:
    return planned_drafts(context, terms, _exact)


def _exact(deal: DealFacts, *arguments: Any) -> tuple[Decimal, Inputs, str]:
    return _explain(deal.lots, *arguments)


def terms(context: RuleContext) -> PlanTerms:
    """Each paid member's (rank, the increments it collects)."""
    increments = context.rule.params.get("increments_per_lot")
    if not isinstance(increments, dict):
        raise ValueError(f"rule {context.rule.code}: increments_per_lot must map rank codes to amounts")
    ranked: list[tuple[int, str, int]] = []
    for rank, amount in increments.items():
        position = context.network.rank_position(rank)
        if position is None:
            raise ValueError(f"rule {context.rule.code}: unknown rank {rank!r}")
        ranked.append((position, rank, as_minor(amount, f"rule {context.rule.code}: {rank}")))
    ranked.sort()
    earned: dict[int, list[tuple[str, int]]] = {}
    members: dict[int, Member] = {}
    for position, rank, amount in ranked:
        for member in context.upline:
            member_position = context.network.rank_position(member.rank)
            if member_position is not None and member_position >= position:
                earned.setdefault(member.partner_id, []).append((rank, amount))
                members[member.partner_id] = member
                break
    return [
        (members[partner_id], (members[partner_id].rank or "", tuple(parts)))
        for partner_id, parts in earned.items()
    ]


def amount(deal: DealFacts, rank: str, parts: tuple[tuple[str, int], ...]) -> int:
    """What :func:`explain` pays, without the explanation (see :class:`ib.rules.base.Deferred`)."""
    return per_lot_amount(deal.lots, sum(amount for _rank, amount in parts))


def explain(deal: DealFacts, rank: str, parts: tuple[tuple[str, int], ...]) -> tuple[int, Inputs, str]:
    """One member's finished line for ``deal`` (see :data:`ib.rules.PLANNED_RULES`)."""
    return _finished(deal.lots, rank, parts)


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _finished(*arguments: Any) -> tuple[int, Inputs, str]:
    return rounded_explanation(*_explain(*arguments))


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def _explain(lots: Decimal, rank: str, parts: tuple[tuple[str, int], ...]) -> tuple[Decimal, Inputs, str]:
    """The exact amount and its provenance; remembered, because lots and ranks repeat across deals."""
    per_lot = sum(amount for _rank, amount in parts)
    listing = " + ".join(f"{amount} ({code})" for code, amount in parts)
    inputs = (
        ("lots", text(lots)),
        ("rank", rank),
        ("increments", ", ".join(f"{code}={amount}" for code, amount in parts)),
    )
    exact = per_lot_exact(lots, per_lot)
    return exact, inputs, f"{text(lots)} lots * ({listing}) per lot = {text(exact)}"
