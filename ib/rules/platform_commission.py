"""A percentage of the commission the platform charged on the deal, paid to the trader's IB."""

from __future__ import annotations

from decimal import Decimal

from ib.rounding import round_commission_down
from ib.rules.base import (
    DealFacts,
    Draft,
    Inputs,
    PlanTerms,
    RuleContext,
    finished,
    money_in_scheme_currency,
    percent_exact,
    planned_drafts,
    text,
)

KIND = "platform_commission_share"


def calculate(context: RuleContext) -> list[Draft]:
    return planned_drafts(context, terms, _exact)


def terms(context: RuleContext) -> PlanTerms:
    """The trader's IB's percent; nothing when the account's currency is not the scheme's."""
    if not context.upline or not money_in_scheme_currency(context):
        return []
    return [(context.upline[0], (context.rule.decimal("percent"),))]


def amount(deal: DealFacts, percent: Decimal) -> int:
    """What :func:`explain` pays, without the explanation (see :class:`ib.rules.base.Deferred`)."""
    charged = -deal.platform_commission
    return round_commission_down(percent_exact(charged, percent)) if charged > 0 else 0


def explain(deal: DealFacts, percent: Decimal) -> tuple[int, Inputs, str]:
    """The trader's IB's finished line for ``deal``; an amount of 0 when nothing was charged."""
    return finished(_exact(deal, percent))


def _exact(deal: DealFacts, percent: Decimal) -> tuple[Decimal, Inputs, str] | None:
    charged = -deal.platform_commission
    if charged <= 0:
        return None
    exact = percent_exact(charged, percent)
    return (
        exact,
        (("platform_commission", str(charged)), ("percent", text(percent))),
        f"{charged} commission charged * {text(percent)}% = {text(exact)}",
    )
