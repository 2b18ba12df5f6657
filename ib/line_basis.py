"""Line bases: the provenance that the lines of one plan share, stored once instead of per line.

A planned rule's line (:data:`ib.rules.PLANNED_RULES`) is explained by the rule's ``explain``
given two things: the deal, which ``ib_deal`` holds, and the arguments the plan worked out for
the beneficiary (rates, allocations, ranks, percentages), which every deal of that route and target
shares. An overriding line is explained by its sub-IB and percentage, shared the same way, and by
what the sub-IB earned on the deal, which the sub-IB's own stored lines hold. So the engine
stores those arguments once, as a *basis*, and each such line names its basis instead of carrying
its own inputs and formula text: a batch writes some sixteen lines per deal,
and the text was most of each row. Reading a line renders its explanation from the basis and the
deal with the very ``explain`` the calculation uses, so it reads exactly as an explanation stored
with the line would (``tests/integration/ib/test_line_basis.py`` checks this for every rule kind).
CPA and capped rules' lines, computed per deal, keep their own text.

A basis's id is a hash of its content, so the engine names bases while it streams lines, without a
round trip per plan. The content is stored beside the id and compared when a batch saves its bases:
two different bases with one id (a 63-bit hash collision) fail the batch instead of mixing up two
explanations.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Pool, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.after_commit import call_after_commit
from ib.errors import IbError
from ib.models import LineBasis
from ib.rounding import units_to_lots
from ib.rules import PLANNED_RULES, overriding
from ib.rules.base import DealFacts, Deferred, Explain, Inputs, Line
from ib.snapshot import chunked
from ib.timeutil import aware

EXPLAINED_BY: Mapping[Explain, str] = {
    explain: kind for kind, (_terms, _amount, explain) in PLANNED_RULES.items()
}
"""Which rule kind's ``explain`` a deferred line names (overriding apart, see :meth:`BasisNamer.basis_id`)."""

Earned = overriding.Earned


class BasisCollisionError(IbError):
    """Raised when two different bases hash to one id; the batch is refused, nothing is mixed up."""


@dataclass(frozen=True, slots=True)
class Basis:
    id: int
    kind: str
    arguments: str
    symbol_digits: int | None


def _encoded(value: Any) -> Any:
    """An argument as JSON: decimals and tuples tagged, so decoding gives back equal, hashable values."""
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, tuple):
        return {"t": [_encoded(item) for item in value]}
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"a line basis cannot hold {type(value).__name__}")


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        if "d" in value:
            return Decimal(value["d"])
        return tuple(_decoded(item) for item in value["t"])
    return value


@lru_cache(maxsize=4096)
def decode_arguments(text: str) -> tuple[Any, ...]:
    """A basis's arguments, decoded; remembered, because a page or an export of lines names few
    bases (one per plan) many times over. The tuple is immutable, so sharing it is safe."""
    return tuple(_decoded(item) for item in json.loads(text))


def basis_of(kind: str, arguments: tuple[Any, ...], symbol_digits: int | None) -> Basis:
    """The basis of a plan's line: its rule kind, its arguments and the symbol's digits (which
    ``explain`` reads from the deal facts but ``ib_deal`` does not keep)."""
    encoded = json.dumps([_encoded(item) for item in arguments], separators=(",", ":"))
    content = f"{kind}|{encoded}|{symbol_digits}".encode()
    digest = int.from_bytes(hashlib.blake2b(content, digest_size=8).digest(), "big") >> 1
    return Basis(digest, kind, encoded, symbol_digits)


class BasisNamer:
    """Names the bases of one batch's deferred lines, and remembers them for :func:`save_bases`.

    Looked up by the identity of the plan's arguments tuple (the same object for every deal of a
    plan), so a basis is encoded and hashed once per plan, not per line; the bases it holds keep
    those tuples alive, so no identity is reused while it lives.
    """

    def __init__(self) -> None:
        self.bases: dict[int, Basis] = {}
        self._named: dict[int, tuple[int, int | None, tuple[Any, ...]]] = {}
        """id(arguments) -> (basis id, symbol digits, the arguments themselves, kept alive)."""
        self._overriding: dict[tuple[int, Decimal], int] = {}

    def basis_id(self, why: Deferred) -> int | None:
        """The basis id of a deferred line, or ``None`` when its provenance must be stored with it.

        An overriding line's arguments are what its sub-IB earned on the deal, the sub-IB and the
        percentage; its basis holds the last two, and the first is read back from the sub-IB's
        own lines of the deal when the line is shown (:func:`render`).
        """
        if why.explain is overriding.explain:
            _earned, downline, percent = why.arguments
            found_id = self._overriding.get((downline, percent))
            if found_id is None:
                basis = basis_of(overriding.KIND, (downline, percent), None)
                self.bases.setdefault(basis.id, basis)
                found_id = self._overriding[(downline, percent)] = basis.id
            return found_id
        arguments = why.arguments
        digits = why.deal.symbol_digits
        found = self._named.get(id(arguments))
        if found is not None and found[1] == digits:
            return found[0]
        kind = EXPLAINED_BY.get(why.explain)
        if kind is None:
            return None
        basis = basis_of(kind, arguments, digits)
        self.bases.setdefault(basis.id, basis)
        self._named[id(arguments)] = (basis.id, digits, arguments)
        return basis.id

    def plan_line_key(self, line: Line) -> tuple[Any, ...]:
        """What tells a deferred line's plan line from others' without naming its basis: the
        basis's own key (for an overriding line its sub-IB and percentage, for others the identity
        of the plan's arguments and the symbol's digits) with the beneficiary, rule, level and rank.
        Valid while this namer lives, once :meth:`basis_id` has named the basis (which keeps those
        arguments alive). One flat tuple: it is built for every line the engine writes."""
        why: Deferred = line.why  # type: ignore[assignment]
        arguments = why.arguments
        if why.explain is overriding.explain:
            return (arguments[1], arguments[2], line.beneficiary_id, line.rule_id, line.level, line.rank)
        digits = why.deal.symbol_digits
        return (id(arguments), digits, line.beneficiary_id, line.rule_id, line.level, line.rank)

    def provenance(self, line: Line) -> tuple[int | None, Inputs | None, str | None]:
        """(basis id, inputs, formula) as a line stores them: a basis (the other two ``None``), or
        the line's own explanation."""
        why = line.why
        if type(why) is Deferred:
            basis_id = self.basis_id(why)
            if basis_id is not None:
                return basis_id, None, None
        inputs, formula = why.render()
        return None, inputs, formula


KNOWN_STORED_LIMIT = 100_000
"""How many stored bases a process remembers per database before it starts over."""

_known_stored: WeakKeyDictionary[Pool, dict[int, Basis]] = WeakKeyDictionary()
"""Per database (an engine's connection pool), the bases this process saw committed with their
content checked. Bases are only ever added, so a batch whose plans were met before skips saving
them again: for the engine's feed batches that was an insert and a read-back of some thousand rows
each time."""


async def save_bases(session: AsyncSession, bases: Mapping[int, Basis]) -> None:
    """Store the bases a batch's lines name (those already stored are left alone), in the lines'
    transaction, and refuse the batch if an id already names different content."""
    bind = session.get_bind()
    # Keyed by the engine's pool: an engine with other execution options (the posting session's
    # on SQLite) is another object on the same database and pool.
    known = _known_stored.setdefault((bind if isinstance(bind, Engine) else bind.engine).pool, {})
    fresh: dict[int, Basis] = {}
    for basis_id, basis in bases.items():
        stored = known.get(basis_id)
        if stored is None:
            fresh[basis_id] = basis
        elif stored != basis:
            raise BasisCollisionError(f"line basis {basis_id} already names other content")
    if not fresh:
        return
    await _store_and_check(session, fresh)

    def remember() -> None:
        if len(known) + len(fresh) > KNOWN_STORED_LIMIT:
            known.clear()
        known.update(fresh)

    call_after_commit(session, remember)


async def _store_and_check(session: AsyncSession, bases: Mapping[int, Basis]) -> None:
    connection = await session.connection()
    dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    rows = [
        {"id": b.id, "kind": b.kind, "arguments": b.arguments, "symbol_digits": b.symbol_digits}
        for b in bases.values()
    ]
    for chunk in chunked(rows, 1000):
        await session.execute(
            dialect_insert(LineBasis).on_conflict_do_nothing(index_elements=["id"]), list(chunk)
        )
    for ids in chunked(sorted(bases), 1000):
        stored = await session.execute(
            select(LineBasis.id, LineBasis.kind, LineBasis.arguments, LineBasis.symbol_digits).where(
                LineBasis.id.in_(ids)
            )
        )
        for basis_id, kind, arguments, digits in stored:
            if bases[basis_id] != Basis(basis_id, kind, arguments, digits):
                raise BasisCollisionError(f"line basis {basis_id} already names other content")


def stored_deal_facts(deal: Any, symbol_digits: int | None) -> DealFacts:
    """The facts ``explain`` reads, from an ``ib_deal`` row (account type and currency, which no
    ``explain`` reads, are left empty)."""
    return DealFacts(
        server=deal.server,
        ticket=deal.ticket,
        client_id=deal.client_id,
        account_type="",
        account_currency="",
        symbol=deal.symbol,
        symbol_group=None,
        symbol_digits=symbol_digits,
        lots=units_to_lots(deal.volume_closed),
        contract_size=Decimal(deal.contract_size),
        profit=deal.profit,
        platform_commission=deal.commission,
        currency_digits=deal.currency_digits,
        time=aware(deal.time),
        opened_at=None,
    )


def downline_of(basis: LineBasis) -> int | None:
    """The sub-IB an overriding basis names, whose lines of the deal :func:`render` needs."""
    return int(decode_arguments(basis.arguments)[0]) if basis.kind == overriding.KIND else None


def render(basis: LineBasis, deal: Any, earned: Earned = ()) -> tuple[Inputs, str]:
    """A basis line's inputs and formula, from its basis and its deal's ``ib_deal`` row; an
    overriding line also needs what its sub-IB earned on the deal: (amount, rule code) of each of
    the sub-IB's paid, non-overriding lines of the deal, in rule-code order (the calculation's)."""
    arguments = decode_arguments(basis.arguments)
    if basis.kind == overriding.KIND:
        _amount, inputs, formula = overriding.explain(None, earned, *arguments)
        return inputs, formula
    explain = PLANNED_RULES[basis.kind][2]
    _amount, inputs, formula = explain(stored_deal_facts(deal, basis.symbol_digits), *arguments)
    return inputs, formula
