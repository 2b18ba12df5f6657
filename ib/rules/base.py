"""The values every rule calculator works with: the deal's facts, the upline, the rule, a draft line.

A calculator is a pure function ``(RuleContext) -> list[Draft]``: exact amounts in minor units of
the scheme's currency, at most one draft per beneficiary, with the inputs and the formula that
explain it. Rounding, own-trade exclusion and caps are applied afterwards, the same for every rule,
by :mod:`ib.calculation`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _quoted
from typing import Any, NamedTuple, Protocol

from ib.rounding import as_decimal, as_minor, round_commission_down


@dataclass(frozen=True, slots=True)
class DealFacts:
    """What the rules may know about one closing deal (or closed part of one)."""

    server: str
    ticket: int
    client_id: int
    account_type: str
    account_currency: str
    symbol: str
    symbol_group: str | None
    symbol_digits: int | None
    lots: Decimal
    """The volume that actually closed."""
    contract_size: Decimal
    profit: int
    platform_commission: int
    """As the platform reports it: negative when charged to the client."""
    currency_digits: int
    time: datetime
    opened_at: datetime | None
    """When the position was opened, if its opening deal is known (for minimum hold time)."""


@dataclass(frozen=True, slots=True)
class Member:
    """One IB of a deal's upline: level 1 is the trader's own IB (or the trader, for an IB's own trade)."""

    partner_id: int
    level: int
    rank: str | None
    own: bool = False


@dataclass(frozen=True, slots=True)
class Conditions:
    """When a rule pays at all, and how much it may pay one IB per day or month."""

    min_hold_seconds: int = 0
    include_own_trades: bool = False
    cap_per_day: int | None = None
    cap_per_month: int | None = None
    account_types: frozenset[str] | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Conditions:
        raw = dict(raw or {})
        unknown = set(raw) - {
            "min_hold_seconds",
            "include_own_trades",
            "cap_per_day",
            "cap_per_month",
            "account_types",
        }
        if unknown:
            raise ValueError(f"unknown conditions: {', '.join(sorted(unknown))}")
        hold = raw.get("min_hold_seconds", 0)
        if isinstance(hold, bool) or not isinstance(hold, int) or hold < 0:
            raise ValueError("min_hold_seconds must be a non-negative integer")
        own = raw.get("include_own_trades", False)
        if not isinstance(own, bool):
            raise ValueError("include_own_trades must be true or false")
        day = raw.get("cap_per_day")
        month = raw.get("cap_per_month")
        types = raw.get("account_types")
        if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
            raise ValueError("account_types must be a list of names")
        return cls(
            hold,
            own,
            None if day is None else as_minor(day, "cap_per_day"),
            None if month is None else as_minor(month, "cap_per_month"),
            None if types is None else frozenset(types),
        )

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"min_hold_seconds": self.min_hold_seconds}
        out["include_own_trades"] = self.include_own_trades
        if self.cap_per_day is not None:
            out["cap_per_day"] = self.cap_per_day
        if self.cap_per_month is not None:
            out["cap_per_month"] = self.cap_per_month
        if self.account_types is not None:
            out["account_types"] = sorted(self.account_types)
        return out


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule of a scheme version, as the calculators see it."""

    id: int
    code: str
    kind: str
    params: Mapping[str, Any]
    conditions: Conditions = field(default_factory=Conditions)
    account_type: str | None = None
    symbol_group: str | None = None
    symbol: str | None = None
    parsed: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Parameters already checked and parsed, so each deal does not parse them again."""

    def decimal(self, name: str, default: str | None = None) -> Decimal:
        key = f"decimal:{name}:{default}"
        found = self.parsed.get(key)
        if found is None:
            value = self.params.get(name, default)
            if value is None:
                raise ValueError(f"rule {self.code}: parameter {name} is required")
            found = self.parsed[key] = as_decimal(value, f"rule {self.code}: {name}")
        return found

    def minor(self, name: str) -> int:
        key = f"minor:{name}"
        found = self.parsed.get(key)
        if found is None:
            if name not in self.params:
                raise ValueError(f"rule {self.code}: parameter {name} is required")
            found = self.parsed[key] = as_minor(self.params[name], f"rule {self.code}: {name}")
        return found


@dataclass(frozen=True, slots=True)
class VersionSnapshot:
    """A scheme version with its rules: what governs a deal whose level-1 IB holds that scheme."""

    id: int
    scheme_id: int
    currency: str
    effective_from: datetime
    rules: tuple[RuleSpec, ...]


EXPLANATIONS_REMEMBERED = 16_384
"""How many explanations (inputs and formula) each calculator remembers: lots, rates and uplines
repeat across deals, so most lines reuse one, and the bound keeps a worker's memory small."""

Inputs = tuple[tuple[str, str], ...]
"""A draft's provenance inputs as (name, value) pairs: hashable, so explanations can be remembered."""


class Draft(NamedTuple):
    """A line before rounding: the exact amount in minor units, and why.

    A named tuple rather than a frozen dataclass: a batch makes one per line, and a tuple is built
    several times faster."""

    member: Member
    exact: Decimal
    inputs: Inputs
    formula: str


class Line(NamedTuple):
    """A finished commission line: what the engine stores and the simulator prints (a named tuple,
    for the same reason as :class:`Draft`)."""

    server: str
    ticket: int
    trader_client_id: int
    deal_time: datetime
    beneficiary_id: int
    level: int
    rank: str | None
    rule_id: int
    rule_code: str
    kind: str
    scheme_version_id: int
    currency: str
    amount: int
    why: Explained | Deferred
    """The line's provenance, worked out already or only when asked for (:attr:`inputs`, :attr:`formula`)."""

    @property
    def inputs(self) -> Inputs:
        """(name, value) pairs, the exact amount last; :func:`inputs_json` is how they are stored."""
        return self.why.render()[0]

    @property
    def formula(self) -> str:
        return self.why.render()[1]


class Explained(NamedTuple):
    """Provenance worked out with the amount: the lines of rules computed per deal (CPA, capped rules)."""

    inputs: Inputs
    formula: str

    def render(self) -> tuple[Inputs, str]:
        return self.inputs, self.formula


class Deferred(NamedTuple):
    """Provenance worked out only when something asks for it: a planned rule's (or overriding's)
    finished ``explain`` and its arguments, for a line whose amount came from the rule's ``amount``.

    The two compute the same exact amount (each rule module shares one function between them), so
    the explanation always matches the amount. A dry-run recompute compares amounts only and never
    renders; the engine renders a line when it stores it, the simulator when it prints it.
    """

    explain: Explain
    deal: DealFacts
    arguments: tuple[Any, ...]

    def render(self) -> tuple[Inputs, str]:
        _amount, inputs, formula = self.explain(self.deal, *self.arguments)
        return inputs, formula


class AllocationLookup(Protocol):
    def allocation(self, giver_id: int, receiver_id: int, rule_code: str, moment: datetime) -> int | None: ...

    def rank_position(self, rank: str | None) -> int | None: ...


class ClientHistory(NamedTuple):
    """What the CPA rule needs about the trader before this deal."""

    lots_before: Decimal
    last_trade_at: datetime | None
    first_deposit: int | None
    first_deposit_currency: str | None
    first_deposit_at: datetime | None
    cpa_already_paid: bool


class RuleContext(NamedTuple):
    """What a calculator is given about one deal and one rule (a named tuple: one per rule per deal)."""

    deal: DealFacts
    upline: tuple[Member, ...]
    rule: RuleSpec
    version: VersionSnapshot
    network: AllocationLookup
    history: ClientHistory


Calculator = Callable[[RuleContext], list[Draft]]

PlanTerms = list[tuple[Member, tuple[Any, ...]]]
"""What a planned rule (:data:`ib.rules.PLANNED_RULES`) gives each member of one route, the deal's
own figures aside: the member and the arguments its ``explain(deal, *arguments)`` takes."""

Explain = Callable[..., tuple[int, "Inputs", str]]
"""``explain(deal, *arguments)``: one member's line for one deal, finished by
:func:`rounded_explanation` (amount, inputs, formula)."""

Amount = Callable[..., int]
"""``amount(deal, *arguments)``: the finished amount ``explain`` gives, without the explanation."""


def rounded_explanation(exact: Decimal, inputs: Inputs, formula: str) -> tuple[int, Inputs, str]:
    """A draft's amount rounded down, its inputs with the exact amount last, and its formula with
    the rounding: how every line is finished (:mod:`ib.calculation`)."""
    rounded = round_commission_down(exact)
    return rounded, (*inputs, ("exact", text(exact))), f"{formula} → rounded down {rounded}"


NOTHING: tuple[int, Inputs, str] = (0, (), "")
"""What ``explain`` gives a member the deal pays nothing (a line of 0 is never written)."""

Exact = tuple[Decimal, Inputs, str]
"""A draft's exact amount, inputs and formula."""


def finished(exact: Exact | None) -> tuple[int, Inputs, str]:
    """An exact explanation finished (:func:`rounded_explanation`), or :data:`NOTHING` for none."""
    return NOTHING if exact is None else rounded_explanation(*exact)


def planned_drafts(
    context: RuleContext,
    terms: Callable[[RuleContext], PlanTerms],
    exact: Callable[..., Exact | None],
) -> list[Draft]:
    """A planned rule's drafts for one deal, as a calculator: each of its ``terms`` explained
    exactly by ``exact(deal, *arguments)`` (``None`` when that member earns nothing on the deal)."""
    deal = context.deal
    return [
        Draft(member, *found)
        for member, arguments in terms(context)
        if (found := exact(deal, *arguments)) is not None
    ]


def per_lot_exact(lots: Decimal, per_lot: int) -> Decimal:
    """``lots * per_lot``: the exact amount of every per-lot rule (fixed, per level, rank differential)."""
    return lots * Decimal(per_lot)


@lru_cache(maxsize=EXPLANATIONS_REMEMBERED)
def per_lot_amount(lots: Decimal, per_lot: int) -> int:
    """:func:`per_lot_exact` rounded down; remembered, because lots and rates repeat across deals."""
    return round_commission_down(per_lot_exact(lots, per_lot))


def percent_exact(base: int, percent: Decimal) -> Decimal:
    """``base * percent / 100``: the exact amount of every share of money (platform commission,
    profit, overriding)."""
    return Decimal(base) * percent / 100


def text(value: Decimal | int) -> str:
    """A number as provenance text: exact, no exponent, no trailing zeros."""
    if isinstance(value, int):
        return str(value)
    return _decimal_text(value)


@lru_cache(maxsize=65_536)
def _decimal_text(value: Decimal) -> str:
    # Lots and rates repeat across deals, so the formatting is remembered.
    return f"{value.normalize():f}"


def inputs_json(inputs: Inputs) -> str:
    """Provenance inputs as the JSON object the engine stores, written directly from the pairs: the
    same text as ``json.dumps(dict(inputs))``, without building a dict per line."""
    return "{" + ", ".join(f"{_quoted(name)}: {_quoted(value)}" for name, value in inputs) + "}"


class RememberedInputsJson:
    """:func:`inputs_json` of one batch's explanations, each encoded once: they repeat across lines
    (lots, rates and uplines do) as the very same remembered objects, so they are looked up by
    identity. Each entry holds its explanation, so no identity is reused while this lives, even
    when the lines themselves are freed as they are written."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[Inputs, str]] = {}

    def __call__(self, inputs: Inputs) -> str:
        found = self._texts.get(id(inputs))
        if found is None:
            found = self._texts[id(inputs)] = (inputs, inputs_json(inputs))
        return found[1]


def money_in_scheme_currency(context: RuleContext) -> bool:
    """Rules that take a share of the deal's money need the account and scheme in one currency."""
    return context.deal.account_currency == context.version.currency
