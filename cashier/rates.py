"""Exchange rates: typed in by staff or loaded by a scheduled job from a configured file.

Rates are the ledger's immutable rows (:mod:`ledger.fx`); this module parses what people and files
give, and audits who entered what.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import select

from cashier.errors import RateError
from cashier.transactions import money_transaction
from core.audit.service import Actor, record_audit
from core.clock import utcnow
from core.db import Database
from ledger.errors import LedgerError
from ledger.fx import FxRate, rates_table, record_rate


def plain(value: Decimal) -> Decimal:
    """A rate as people write it: no padding zeros (PostgreSQL's NUMERIC adds them), no exponent."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


@dataclass(frozen=True)
class RateInput:
    base: str
    quote: str
    rate: Decimal
    spread: Decimal


def parse_rate(base: str, quote: str, rate: str, spread: str) -> RateInput:
    """Text from a form or file as a rate; the spread is a fraction (``0.002`` means 0.2 percent)."""
    try:
        parsed_rate, parsed_spread = Decimal(str(rate).strip()), Decimal(str(spread or "0").strip())
    except InvalidOperation:
        raise RateError("Rate and spread must be numbers, such as 1.0850 and 0.002.") from None
    if not parsed_rate.is_finite() or parsed_rate <= 0:
        raise RateError("The rate must be a positive number.")
    if not parsed_spread.is_finite() or not Decimal(0) <= parsed_spread < Decimal("0.5"):
        raise RateError("The spread is a fraction between 0 and 0.5 (0.002 means 0.2 percent).")
    return RateInput(base.strip().upper(), quote.strip().upper(), parsed_rate, parsed_spread)


async def enter_rate(
    db: Database,
    entry: RateInput,
    actor: Actor,
    *,
    source: str = "manual",
    observed_at: datetime | None = None,
) -> FxRate:
    async with money_transaction(db) as session:
        try:
            stored = await record_rate(
                session,
                base=entry.base,
                quote=entry.quote,
                rate=entry.rate,
                spread=entry.spread,
                source=source,
                observed_at=observed_at or utcnow(),
            )
        except LedgerError as exc:
            raise RateError(str(exc)) from None
        await record_audit(
            session,
            actor,
            "cashier.rate_entered",
            target_type="fx_rate",
            target_id=stored.id,
            after={
                "pair": f"{entry.base}/{entry.quote}",
                "rate": str(entry.rate),
                "spread": str(entry.spread),
                "source": source,
            },
        )
    return stored


def read_rates_file(path: Path) -> list[RateInput]:
    """``[{"base": "EUR", "quote": "USD", "rate": "1.0850", "spread": "0.002"}, ...]``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RateError(f"can't read the rates file {path}: {exc}") from None
    if not isinstance(data, list):
        raise RateError("the rates file holds a list of rates")
    entries = []
    for item in data:
        if not isinstance(item, dict):
            raise RateError("each rate is an object with base, quote, rate and spread")
        entries.append(
            parse_rate(
                str(item.get("base", "")),
                str(item.get("quote", "")),
                str(item.get("rate", "")),
                str(item.get("spread", "0")),
            )
        )
    return entries


async def load_rates_file(db: Database, path: Path, actor: Actor) -> list[FxRate]:
    """The scheduled job's work: every rate in the file becomes a new rate row."""
    return [await enter_rate(db, entry, actor, source=f"file:{path.name}") for entry in read_rates_file(path)]


async def recent_rates(db: Database, limit: int = 200) -> list[FxRate]:
    """The newest rate rows, newest first, for the rates screen."""
    r = rates_table.c
    async with db.session() as session:
        rows = (
            await session.execute(
                select(r.id, r.base, r.quote, r.rate, r.spread, r.source, r.observed_at)
                .order_by(r.observed_at.desc(), r.id.desc())
                .limit(limit)
            )
        ).all()
    return [
        FxRate(
            row.id,
            row.base,
            row.quote,
            plain(Decimal(str(row.rate))),
            plain(Decimal(str(row.spread))),
            row.source,
            row.observed_at,
        )
        for row in rows
    ]
