"""Turning bridge ``Deal`` records into the rows the engine keeps, and rows into calculation facts.

A deal closes volume when its entry is OUT, INOUT or OUT_BY; ``volume_closed`` is what actually
closed (a reversal's INOUT deal closes only the old position's volume). Opening (IN) deals are
kept too, because the minimum-hold condition needs the position's opening time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from ib.rounding import lots_to_units, units_to_lots
from ib.rules.base import DealFacts
from ib.timeutil import aware
from mt_bridge.records import Deal, DealEntry

CLOSING_ENTRIES = frozenset({DealEntry.OUT, DealEntry.INOUT, DealEntry.OUT_BY})


def is_closing(entry: int, volume_closed_units: int) -> bool:
    return entry in CLOSING_ENTRIES and volume_closed_units > 0


def fingerprint(deal: Deal) -> str:
    """What makes two deliveries of one ticket the same deal; a dealer's edit changes it."""
    parts = (
        deal.login,
        deal.position_id,
        deal.action,
        deal.entry,
        deal.symbol,
        deal.volume_closed.normalize(),
        deal.contract_size.normalize(),
        deal.profit,
        deal.commission,
        deal.currency_digits,
        aware(deal.time).isoformat(),
    )
    return hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()[:32]


def row_values(server: str, deal: Deal, client_id: int, now: datetime) -> dict[str, Any]:
    return {
        "server": server,
        "ticket": deal.ticket,
        "login": deal.login,
        "client_id": client_id,
        "position_id": deal.position_id,
        "action": int(deal.action),
        "entry": int(deal.entry),
        "symbol": deal.symbol,
        "volume_closed": lots_to_units(deal.volume_closed),
        "contract_size": str(deal.contract_size.normalize()),
        "profit": deal.profit,
        "commission": deal.commission,
        "currency_digits": deal.currency_digits,
        "time": aware(deal.time),
        "fingerprint": fingerprint(deal),
        "deleted": False,
        "updated_at": now,
    }


def facts(
    row: Mapping[str, Any],
    *,
    account_type: str,
    account_currency: str,
    symbol_group: str | None,
    symbol_digits: int | None,
    opened_at: datetime | None,
) -> DealFacts:
    return DealFacts(
        server=row["server"],
        ticket=row["ticket"],
        client_id=row["client_id"],
        account_type=account_type,
        account_currency=account_currency,
        symbol=row["symbol"],
        symbol_group=symbol_group,
        symbol_digits=symbol_digits,
        lots=units_to_lots(row["volume_closed"]),
        contract_size=Decimal(row["contract_size"]),
        profit=row["profit"],
        platform_commission=row["commission"],
        currency_digits=row["currency_digits"],
        time=aware(row["time"]),
        opened_at=opened_at,
    )
