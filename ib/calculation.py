"""The pure calculation core: closing deals + a network snapshot → commission lines.

The engine (production), the recompute tool and the simulator all call :func:`calculate`, so a
scheme tried in the simulator pays exactly what production will pay. Nothing here touches a
database. Deals are taken in (time, server, ticket) order, because caps and CPA depend on what
came before; the caller seeds :class:`CalculationState` with what came before the first deal.

Per rule, in this order: the rule must match the deal (account type * symbol or symbol group);
its conditions must hold (eligible account types, minimum hold time); the calculator gives exact
drafts; the IB's own trade is dropped unless included; each draft is rounded down
(:func:`ib.rounding.round_commission_down`); day and month caps cut it. Overriding runs last, on
the finished lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from core.gc_tuning import collector_paused
from ib.network import Network, Route
from ib.rounding import round_commission_down
from ib.rules import DEAL_CALCULATORS, OVERRIDING, PLANNED_RULES, overriding
from ib.rules.base import (
    EXPLANATIONS_REMEMBERED,
    Amount,
    ClientHistory,
    DealFacts,
    Deferred,
    Draft,
    Explain,
    Explained,
    Line,
    Member,
    RuleContext,
    RuleSpec,
    VersionSnapshot,
    rounded_explanation,
)


@dataclass
class CalculationState:
    """What earlier deals left behind that later deals depend on (caps, CPA qualification)."""

    cap_used: dict[tuple[int, str, str], int] = field(default_factory=dict)
    """(beneficiary, rule code, "D:<date>" or "M:<year-month>") -> amount already earned."""
    client_lots: dict[int, Decimal] = field(default_factory=dict)
    """Lots each client closed before: read only by CPA, so the engine seeds them only for clients
    with a first deposit and a CPA still unpaid (others start from zero here, to no effect)."""
    client_last_trade: dict[int, datetime] = field(default_factory=dict)
    first_deposits: dict[int, tuple[int, str, datetime]] = field(default_factory=dict)
    cpa_paid: set[tuple[int, str]] = field(default_factory=set)
    """(client, rule code) pairs whose CPA was already paid."""
    rule_cache: dict[tuple[int, str, str, str | None], list[RuleSpec]] = field(default_factory=dict)


def _specificity(rule: RuleSpec, deal: DealFacts) -> tuple[int, int] | None:
    """How precisely a rule targets the deal, or ``None`` when it does not apply to it."""
    if rule.account_type is not None and rule.account_type != deal.account_type:
        return None
    if rule.symbol is not None:
        if rule.symbol != deal.symbol:
            return None
        symbol_level = 2
    elif rule.symbol_group is not None:
        if rule.symbol_group != deal.symbol_group:
            return None
        symbol_level = 1
    else:
        symbol_level = 0
    return (symbol_level, 1 if rule.account_type is not None else 0)


def select_rules(version: VersionSnapshot, deal: DealFacts) -> list[RuleSpec]:
    """Per rule kind, the most specific rule that applies: symbol over symbol group over any, then an
    account-type rule over an any-type one. Ties go to the rule whose code sorts first."""
    best: dict[str, tuple[tuple[int, int], RuleSpec]] = {}
    for rule in sorted(version.rules, key=lambda r: r.code):
        score = _specificity(rule, deal)
        if score is None:
            continue
        current = best.get(rule.kind)
        if current is None or score > current[0]:
            best[rule.kind] = (score, rule)
    return [rule for _score, rule in sorted(best.values(), key=lambda item: item[1].code)]


def _conditions_hold(rule: RuleSpec, deal: DealFacts) -> bool:
    conditions = rule.conditions
    if conditions.account_types is not None and deal.account_type not in conditions.account_types:
        return False
    if conditions.min_hold_seconds:
        if deal.opened_at is None:
            return False  # unknown hold time: in the house's favour
        if (deal.time - deal.opened_at).total_seconds() < conditions.min_hold_seconds:
            return False
    return True


def _cap(
    rule: RuleSpec, deal: DealFacts, member: Member, amount: int, state: CalculationState
) -> tuple[int, str]:
    conditions = rule.conditions
    if conditions.cap_per_day is None and conditions.cap_per_month is None:
        return amount, ""
    note = ""
    keys: list[tuple[tuple[int, str, str], int]] = []
    if conditions.cap_per_day is not None:
        keys.append(
            ((member.partner_id, rule.code, f"D:{deal.time.date().isoformat()}"), conditions.cap_per_day)
        )
    if conditions.cap_per_month is not None:
        keys.append(((member.partner_id, rule.code, f"M:{deal.time:%Y-%m}"), conditions.cap_per_month))
    for key, cap in keys:
        room = max(cap - state.cap_used.get(key, 0), 0)
        if amount > room:
            period = "day" if key[2].startswith("D") else "month"
            note += f"; capped to {room} ({period} cap {cap}, {state.cap_used.get(key, 0)} already earned)"
            amount = room
    for key, _cap_amount in keys:
        state.cap_used[key] = state.cap_used.get(key, 0) + amount
    return amount, note


_new = tuple.__new__
"""Builds a named tuple (a :class:`Line`, its :class:`Deferred` provenance) from a tuple of its
fields, without the named tuple's own ``__new__`` (which only repacks the arguments): a batch
makes one of each per line."""


def _finish(
    rule: RuleSpec,
    version: VersionSnapshot,
    deal: DealFacts,
    drafts: Iterable[Draft],
    state: CalculationState,
) -> list[Line]:
    lines: list[Line] = []
    seen: set[int] = set()
    conditions = rule.conditions
    capped = conditions.cap_per_day is not None or conditions.cap_per_month is not None
    include_own = conditions.include_own_trades
    head = (deal.server, deal.ticket, deal.client_id, deal.time)
    of_rule = (rule.id, rule.code, rule.kind, version.id, version.currency)
    for draft in drafts:
        member = draft.member
        partner_id = member.partner_id
        if partner_id in seen:
            raise AssertionError(f"rule {rule.code} produced two lines for partner {partner_id}")
        seen.add(partner_id)
        if member.own and not include_own:
            continue
        amount, inputs, formula = _rounded(draft.exact, draft.inputs, draft.formula)
        if capped:
            amount, note = _cap(rule, deal, member, amount, state)
            formula += note
        if amount <= 0:
            continue
        why = _new(Explained, (inputs, formula))
        lines.append(_new(Line, (*head, partner_id, member.level, member.rank, *of_rule, amount, why)))
    return lines


def _overriding(
    rule: RuleSpec,
    version: VersionSnapshot,
    deal: DealFacts,
    upline: tuple[Member, ...],
    lines: list[Line],
    state: CalculationState,
) -> list[Line]:
    """An overriding rule's lines for ``deal``, from the deal's other ``lines``: explained only when
    asked (:class:`Deferred`), unless the rule is capped (its cap notes join the formula)."""
    conditions = rule.conditions
    if conditions.cap_per_day is not None or conditions.cap_per_month is not None:
        return _finish(rule, version, deal, overriding.calculate(rule, upline, lines), state)
    percent = rule.decimal("percent")
    head = (deal.server, deal.ticket, deal.client_id, deal.time)
    of_rule = (rule.id, rule.code, rule.kind, version.id, version.currency)
    out: list[Line] = []
    for member, earned, downline in overriding.terms(upline, lines):
        if member.own and not conditions.include_own_trades:
            continue
        amount = round_commission_down(overriding.exact(earned, percent))
        if amount > 0:
            why = _new(Deferred, (overriding.explain, deal, (earned, downline, percent)))
            out.append(
                _new(Line, (*head, member.partner_id, member.level, member.rank, *of_rule, amount, why))
            )
    return out


_rounded = lru_cache(maxsize=EXPLANATIONS_REMEMBERED)(rounded_explanation)
"""Drafts' explanations finished, remembered: the calculators' explanations repeat across deals."""


def _rules_for(version: VersionSnapshot, deal: DealFacts, state: CalculationState) -> list[RuleSpec]:
    """:func:`select_rules` less the rules whose eligible account types leave the deal's out (a
    condition of the key alone), remembered per version and target."""
    key = (version.id, deal.account_type, deal.symbol, deal.symbol_group)
    rules = state.rule_cache.get(key)
    if rules is None:
        rules = [
            rule
            for rule in select_rules(version, deal)
            if rule.conditions.account_types is None or deal.account_type in rule.conditions.account_types
        ]
        state.rule_cache[key] = rules
    return rules


PLANS_REMEMBERED = 65_536
"""How many plans one network keeps: a route and target each, so a batch or a period needs far fewer;
the bound only keeps a pathological period's memory flat."""

Template = tuple[tuple[int, int, str | None, int, str, str, int, str], Amount, Explain, tuple[Any, ...]]
"""One line a plan pays per deal: the line's fields from beneficiary to currency, the rule's
``amount`` and ``explain`` and the arguments they take after the deal."""

Step = tuple[RuleSpec, list[Template] | None]
"""One rule of a plan: its templates when the rule is planned and uncapped, else ``None``
(the rule's calculator runs for each deal)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """A scheme version compiled against one route (upline at an epoch) and one target (account
    type and currency, symbol): what each rule pays whom, lots aside.

    A planned rule (:data:`ib.rules.PLANNED_RULES`) without caps has its members, rates and
    allocations worked out once here, its own-trade exclusion applied, and leaves each deal only
    its own figures to explain; the other rules (CPA, which reads the trader's history, and capped
    rules) and overriding run per deal.
    """

    steps: tuple[Step, ...]
    overriding: tuple[RuleSpec, ...]


def _compile(
    deal: DealFacts,
    network: Network,
    upline: tuple[Member, ...],
    version: VersionSnapshot,
    rules: Sequence[RuleSpec],
) -> Plan:
    steps: list[Step] = []
    for rule in rules:
        if rule.kind == OVERRIDING:
            continue
        conditions = rule.conditions
        lot_rule = PLANNED_RULES.get(rule.kind)
        if lot_rule is None or conditions.cap_per_day is not None or conditions.cap_per_month is not None:
            steps.append((rule, None))
            continue
        terms, amount, explain = lot_rule
        of_rule = (rule.id, rule.code, rule.kind, version.id, version.currency)
        templates: list[Template] = []
        seen: set[int] = set()
        for member, arguments in terms(RuleContext(deal, upline, rule, version, network, NO_HISTORY)):
            if member.partner_id in seen:
                raise AssertionError(f"rule {rule.code} produced two lines for partner {member.partner_id}")
            seen.add(member.partner_id)
            if member.own and not conditions.include_own_trades:
                continue
            fields = (member.partner_id, member.level, member.rank, *of_rule)
            templates.append((fields, amount, explain, arguments))
        steps.append((rule, templates))
    return Plan(tuple(steps), tuple(rule for rule in rules if rule.kind == OVERRIDING))


NO_HISTORY = ClientHistory(Decimal(0), None, None, None, None, False)
"""What a plan's rules are given for the trader's history: they never read it."""


def _plan(
    network: Network,
    route: Route | None,
    upline: tuple[Member, ...],
    version: VersionSnapshot,
    deal: DealFacts,
    rules: Sequence[RuleSpec],
    dropped: tuple[int, ...],
) -> Plan:
    """The deal's plan, compiled on first use per route, target and rules held back by minimum hold."""
    key = (
        route, version.id, deal.account_type, deal.account_currency, deal.symbol, deal.symbol_group,
        deal.symbol_digits, dropped,
    )  # fmt: skip
    plans = network.plans
    plan = plans.get(key)
    if plan is None:
        if len(plans) >= PLANS_REMEMBERED:
            plans.clear()
        plan = plans[key] = _compile(deal, network, upline, version, rules)
    return plan  # type: ignore[return-value]


def calculate_deal(deal: DealFacts, network: Network, state: CalculationState) -> list[Line]:
    """The lines one closing deal earns, given the network as it stood at the deal's time."""
    route, upline, version = network.route(deal.client_id, deal.time)
    lines: list[Line] = []
    if version is not None:
        rules = _rules_for(version, deal, state)
        dropped: tuple[int, ...] = ()
        if any(rule.conditions.min_hold_seconds for rule in rules):
            dropped = tuple(rule.id for rule in rules if not _conditions_hold(rule, deal))
            rules = [rule for rule in rules if rule.id not in dropped]
        plan = _plan(network, route, upline, version, deal, rules, dropped)
        head = (deal.server, deal.ticket, deal.client_id, deal.time)
        history: ClientHistory | None = None
        for rule, templates in plan.steps:
            if templates is not None:
                for fields, amount_of, explain, arguments in templates:
                    amount = amount_of(deal, *arguments)
                    if amount > 0:
                        why = _new(Deferred, (explain, deal, arguments))
                        lines.append(_new(Line, (*head, *fields, amount, why)))
                continue
            if history is None:
                deposit = state.first_deposits.get(deal.client_id)
                history = ClientHistory(
                    state.client_lots.get(deal.client_id, Decimal(0)),
                    state.client_last_trade.get(deal.client_id),
                    None if deposit is None else deposit[0],
                    None if deposit is None else deposit[1],
                    None if deposit is None else deposit[2],
                    False,
                )
            if rule.kind == "cpa":
                paid = (deal.client_id, rule.code) in state.cpa_paid
                context = RuleContext(
                    deal, upline, rule, version, network, history._replace(cpa_already_paid=paid)
                )
            else:
                context = RuleContext(deal, upline, rule, version, network, history)
            finished = _finish(rule, version, deal, DEAL_CALCULATORS[rule.kind](context), state)
            if rule.kind == "cpa" and finished:
                state.cpa_paid.add((deal.client_id, rule.code))
            lines.extend(finished)
        for rule in plan.overriding:
            lines.extend(_overriding(rule, version, deal, upline, lines, state))
    state.client_lots[deal.client_id] = state.client_lots.get(deal.client_id, Decimal(0)) + deal.lots
    state.client_last_trade[deal.client_id] = deal.time
    return lines


def deal_order(deal: DealFacts) -> tuple[datetime, str, int]:
    return (deal.time, deal.server, deal.ticket)


def iter_lines(
    deals: Sequence[DealFacts], network: Network, state: CalculationState | None = None
) -> Iterator[Line]:
    """Every line of ``deals``, taken in time order, one deal at a time: the engine writes the
    lines found so far while it computes the next ones."""
    state = state or CalculationState()
    for deal in sorted(deals, key=deal_order):
        yield from calculate_deal(deal, network, state)


def calculate(
    deals: Sequence[DealFacts], network: Network, state: CalculationState | None = None
) -> list[Line]:
    """Every line of ``deals``, taken in time order (with the garbage collector held off: the
    calculation makes a few objects per line and never a reference cycle)."""
    with collector_paused():
        return list(iter_lines(deals, network, state))
