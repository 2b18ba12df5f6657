"""The scheme simulator: a scenario file (tree, ranks, rules, deals) → each IB's lines and totals.

It builds the same :class:`~ib.network.Network` and :class:`~ib.rules.base.DealFacts` the engine
builds from the database and calls the same :func:`ib.calculation.calculate`, so what staff try
here is what production pays. The format is documented in ``docs/ib-scenarios.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ib.calculation import CalculationState, calculate
from ib.errors import ScenarioError
from ib.network import Network, Span, Terms
from ib.rounding import as_decimal, as_minor
from ib.rules import RULE_KINDS
from ib.rules.base import Conditions, DealFacts, Line, RuleSpec, VersionSnapshot

BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
SCENARIO_KEYS = {
    "currency",
    "ranks",
    "symbols",
    "accounts",
    "ibs",
    "clients",
    "allocations",
    "rules",
    "deals",
}


def _time(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: a time is an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScenarioError(f"{where}: {value!r} is not an ISO 8601 time") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ScenarioError(f"{key} must be a list")
    return value


def _map(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"{key} must be an object")
    return value


class Scenario:
    """A parsed scenario: the network, the deals, and the IB names to report under."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise ScenarioError("a scenario is a JSON object")
        unknown = set(data) - SCENARIO_KEYS
        if unknown:
            raise ScenarioError(f"unknown scenario keys: {', '.join(sorted(unknown))}")
        try:
            self._parse(data)
        except (ValueError, TypeError, KeyError) as exc:
            raise ScenarioError(str(exc)) from exc

    def _parse(self, data: Mapping[str, Any]) -> None:
        self.currency = str(data.get("currency", "USD"))
        ranks = {str(r["code"]): int(r["position"]) for r in _list(data, "ranks")}
        symbols = _map(data, "symbols")
        self.ib_ids: dict[str, int] = {}
        self.ib_names: dict[int, str] = {}
        partners: dict[int, tuple[int, datetime]] = {}
        edges: dict[int, list[Span]] = {}
        terms: dict[int, list[Terms]] = {}
        ibs = _list(data, "ibs")
        for index, ib in enumerate(ibs, start=1):
            name = str(ib["id"])
            if name in self.ib_ids:
                raise ScenarioError(f"IB {name!r} appears twice")
            self.ib_ids[name] = index
            self.ib_names[index] = name
        for ib in ibs:
            pid = self.ib_ids[str(ib["id"])]
            rank = ib.get("rank")
            if rank is not None and rank not in ranks:
                raise ScenarioError(f"IB {ib['id']!r}: unknown rank {rank!r}")
            client = int(ib.get("client", -pid))
            partners[pid] = (client, BEGINNING)
            terms[pid] = [Terms(BEGINNING, 1, rank)]
            parent = ib.get("parent")
            if parent is not None:
                if parent not in self.ib_ids:
                    raise ScenarioError(f"IB {ib['id']!r}: unknown parent {parent!r}")
                edges[pid] = [Span(BEGINNING, None, self.ib_ids[parent])]
        links: dict[int, list[Span]] = {}
        state = CalculationState()
        for client in _list(data, "clients"):
            client_id = int(client["client"])
            ib_name = client.get("ib")
            if ib_name is not None:
                if ib_name not in self.ib_ids:
                    raise ScenarioError(f"client {client_id}: unknown IB {ib_name!r}")
                links[client_id] = [Span(BEGINNING, None, self.ib_ids[ib_name])]
            if "first_deposit" in client:
                state.first_deposits[client_id] = (
                    as_minor(client["first_deposit"], "first_deposit"),
                    self.currency,
                    _time(client.get("deposited_at", "1970-01-01T00:00:00Z"), f"client {client_id}"),
                )
        allocations: dict[tuple[int, int, str], list[tuple[datetime, int]]] = {}
        for item in _list(data, "allocations"):
            key = (self.ib_ids[item["giver"]], self.ib_ids[item["receiver"]], str(item["rule"]))
            allocations.setdefault(key, []).append(
                (BEGINNING, as_minor(item["amount_per_lot"], "amount_per_lot"))
            )
        rules: list[RuleSpec] = []
        for index, raw in enumerate(_list(data, "rules"), start=1):
            kind = str(raw["kind"])
            if kind not in RULE_KINDS:
                raise ScenarioError(f"rule {raw.get('code')!r}: unknown kind {kind!r}")
            rules.append(
                RuleSpec(
                    index,
                    str(raw.get("code", f"rule-{index}")),
                    kind,
                    dict(raw.get("params", {})),
                    Conditions.parse(raw.get("conditions")),
                    raw.get("account_type"),
                    raw.get("symbol_group"),
                    raw.get("symbol"),
                )
            )
        version = VersionSnapshot(1, 1, self.currency, BEGINNING, tuple(rules))
        self.network = Network(
            partners=partners,
            client_links=links,
            partner_edges=edges,
            terms=terms,
            versions={1: [version]},
            allocations=allocations,
            rank_positions=ranks,
        )
        self.state = state
        accounts = _map(data, "accounts")
        self.deals: list[DealFacts] = []
        for raw in _list(data, "deals"):
            ticket = int(raw["ticket"])
            login = str(raw["login"])
            if login not in accounts:
                raise ScenarioError(f"deal {ticket}: unknown login {login}")
            account = accounts[login]
            symbol = str(raw["symbol"])
            spec = symbols.get(symbol, {})
            self.deals.append(
                DealFacts(
                    server="scenario",
                    ticket=ticket,
                    client_id=int(account["client"]),
                    account_type=str(account.get("type", "standard")),
                    account_currency=str(account.get("currency", self.currency)),
                    symbol=symbol,
                    symbol_group=spec.get("group"),
                    symbol_digits=None if spec.get("digits") is None else int(spec["digits"]),
                    lots=as_decimal(raw["lots"], f"deal {ticket}: lots"),
                    contract_size=as_decimal(
                        raw.get("contract_size", "100000"), f"deal {ticket}: contract_size"
                    ),
                    profit=int(raw.get("profit", 0)),
                    platform_commission=int(raw.get("commission", 0)),
                    currency_digits=int(account.get("currency_digits", 2)),
                    time=_time(raw["time"], f"deal {ticket}"),
                    opened_at=None
                    if raw.get("opened_at") is None
                    else _time(raw["opened_at"], f"deal {ticket}"),
                )
            )


def line_as_json(line: Line, names: Mapping[int, str]) -> dict[str, Any]:
    return {
        "ticket": line.ticket,
        "trader_client": line.trader_client_id,
        "rule": line.rule_code,
        "kind": line.kind,
        "level": line.level,
        "rank": line.rank,
        "amount": line.amount,
        "beneficiary": names.get(line.beneficiary_id, str(line.beneficiary_id)),
        "inputs": dict(line.inputs),
        "formula": line.formula,
    }


def simulate(data: Mapping[str, Any]) -> dict[str, Any]:
    """Run a scenario and answer, per IB, its lines and its total (in minor units)."""
    scenario = Scenario(data)
    lines = calculate(scenario.deals, scenario.network, scenario.state)
    report: dict[str, Any] = {
        name: {"total": 0, "lines": []} for name in sorted(scenario.ib_ids, key=scenario.ib_ids.__getitem__)
    }
    for line in lines:
        entry = report[scenario.ib_names[line.beneficiary_id]]
        entry["total"] += line.amount
        entry["lines"].append(line_as_json(line, scenario.ib_names))
    return {"currency": scenario.currency, "total": sum(line.amount for line in lines), "ibs": report}


def load(text: str) -> dict[str, Any]:
    """A scenario file's JSON; numbers with a fraction are read as exact decimals, never floats."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a JSON object")
    return data


def as_text(result: Mapping[str, Any]) -> str:
    """The answer as ``brokerdesk ib simulate`` prints it and the back-office page shows it."""
    return json.dumps(result, indent=2, ensure_ascii=False)
