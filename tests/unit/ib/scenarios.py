"""Tiny scenario builder for hand-worked rule examples run through the real calculation core."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ib.simulator import simulate

RANKS = [
    {"code": "bronze", "position": 1},
    {"code": "silver", "position": 2},
    {"code": "gold", "position": 3},
]
EVERY_PLANNED_RULE: list[dict[str, Any]] = [
    {"code": "fx", "kind": "fixed", "symbol_group": "forex", "params": {"amount_per_lot": 700}},
    {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 200, 100]}},
    {
        "code": "ranks",
        "kind": "rank_differential",
        "params": {"increments_per_lot": {"bronze": 30, "gold": 20}},
    },
    {
        "code": "gold",
        "kind": "spread_share",
        "symbol": "XAUUSD",
        "params": {"spread_points": "30", "percent": "35"},
    },
    {"code": "platform", "kind": "platform_commission_share", "params": {"percent": "20"}},
    {"code": "profit", "kind": "profit_share", "params": {"percent": "2.5"}},
]
"""One rule of each planned kind (:data:`ib.rules.PLANNED_RULES`), for tests over all of them."""

SYMBOLS = {"EURUSD": {"group": "forex", "digits": 5}, "XAUUSD": {"group": "metals", "digits": 2}}


def close(ticket: int, client: int, lots: str, **extra: Any) -> dict[str, Any]:
    """A closing deal by ``client`` on its login (client + 5000); EURUSD, held an hour, by default."""
    return {
        "ticket": ticket,
        "login": client + 5000,
        "symbol": "EURUSD",
        "lots": lots,
        "time": "2026-11-02T10:00:00Z",
        "opened_at": "2026-11-02T09:00:00Z",
        "contract_size": "100000",
        **extra,
    }


def run(*args: Any, **kwargs: Any) -> dict[str, int]:
    """Totals per IB name (IBs that earned nothing are left out); arguments as :func:`scenario`."""
    result = simulate(scenario(*args, **kwargs))
    return {name: entry["total"] for name, entry in result["ibs"].items() if entry["total"]}


def scenario(
    rules: Sequence[Mapping[str, Any]],
    *,
    ibs: Sequence[tuple[str, str | None, str | None]],
    clients: Mapping[int, str | None],
    deals: Sequence[Mapping[str, Any]],
    account_types: Mapping[int, str] | None = None,
    currencies: Mapping[int, str] | None = None,
    allocations: Sequence[Mapping[str, Any]] = (),
    deposits: Mapping[int, tuple[int, str]] | None = None,
) -> dict[str, Any]:
    """A simulator scenario.

    ``ibs``: (name, parent, rank); IB ``n``-th in the list is client ``n`` (1-based) for own trades.
    """
    account_types = account_types or {}
    currencies = currencies or {}
    deposits = deposits or {}
    ib_clients = {name: index for index, (name, _parent, _rank) in enumerate(ibs, start=1)}
    all_clients = set(clients) | set(ib_clients.values())
    return {
        "currency": "USD",
        "ranks": RANKS,
        "symbols": SYMBOLS,
        "accounts": {
            str(client + 5000): {
                "client": client,
                "type": account_types.get(client, "standard"),
                "currency": currencies.get(client, "USD"),
            }
            for client in all_clients
        },
        "ibs": [
            {"id": name, "client": ib_clients[name], "parent": parent, "rank": rank}
            for name, parent, rank in ibs
        ],
        "clients": [
            {
                "client": client,
                "ib": ib,
                **(
                    {"first_deposit": deposits[client][0], "deposited_at": deposits[client][1]}
                    if client in deposits
                    else {}
                ),
            }
            for client, ib in clients.items()
        ],
        "allocations": list(allocations),
        "rules": list(rules),
        "deals": list(deals),
    }
