"""The emulator as an MT4 Manager-API gateway (``docs/mt4-gateway.openapi.yaml``), on ``/v1/``.

It serves the same emulated accounts as the MT5 endpoints, shown the MT4 way: whole orders with
volume in 1/100 lot. An MT5 position becomes one MT4 order (the order number is the position
id); each partial close becomes a closed order of its own (numbered by the closing deal), as MT4
splits an order on a partial close. The money of every MT5 deal lands in exactly one MT4 record,
so an account's balance always equals its records' money:

- an order's ``commission`` is the commission of its opening deals (and, when the order is the
  position's final close, of that closing deal);
- ``profit`` and ``storage`` are those of the closing deal, 0 while the order is open;
- balance and credit deals are ``cmd`` 6 and 7.

Authentication is HTTP Basic with a manager login and password on every request (stateless).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mt_bridge.emulator.config import EmulatorConfig
from mt_bridge.emulator.faults import FaultInjector, FaultKind
from mt_bridge.emulator.state import DealRecord, Refusal, TradeServer, check_password_rules, ext_to_lots
from mt_bridge.records import DealAction, DealEntry
from mt_bridge.retcodes import Retcode

PREFIX = "/v1/"
MT4_BALANCE = 6
MT4_CREDIT = 7
HTTP_FOR_RETCODE: dict[int, int] = {
    Retcode.ERR_PARAMS: 400,
    Retcode.ERR_PERMISSIONS: 403,
    Retcode.ERR_NOTFOUND: 404,
    Retcode.USR_LOGIN_EXIST: 409,
    Retcode.USR_INVALID_PASSWORD: 400,
    Retcode.USR_DIFFERENT_CURRENCY: 400,
    Retcode.TRADE_MAX_MONEY: 422,
    Retcode.REQUEST_NO_MONEY: 422,
}


@dataclass
class GatewayReply:
    status: int
    payload: Any
    fault_kind: FaultKind | None = None


def _error(status: int, code: int, message: str) -> GatewayReply:
    return GatewayReply(status, {"error": {"code": code, "message": message}})


def _money(value: Decimal) -> str:
    return format(value, "f")


class Mt4Gateway:
    """Answers ``/v1/`` requests against the emulator's :class:`TradeServer`."""

    def __init__(self, server: TradeServer, faults: FaultInjector, config: EmulatorConfig) -> None:
        self.server = server
        self.faults = faults
        self.config = config

    def handle(
        self, method: str, path: str, query: dict[str, str], body: Any, authorization: str
    ) -> GatewayReply:
        if not self._authorised(authorization):
            return _error(401, Retcode.ERR_PERMISSIONS, "manager login and password required")
        parts = path[len(PREFIX) :].strip("/").split("/")
        payload = body if isinstance(body, dict) else {}
        fault = self.faults.decide(path) if method == "POST" or method == "PATCH" else None
        if fault is not None and fault.kind is FaultKind.ERROR:
            return GatewayReply(503, {"error": {"code": fault.retcode, "message": "injected"}}, fault.kind)
        if fault is not None and fault.kind is FaultKind.DROP_BEFORE_APPLY:
            return GatewayReply(503, {}, fault.kind)
        try:
            reply = self._route(method, parts, query, payload)
        except Refusal as refusal:
            return _error(HTTP_FOR_RETCODE.get(refusal.retcode, 500), refusal.retcode, refusal.detail)
        except (KeyError, ValueError, ArithmeticError) as exc:
            return _error(400, Retcode.ERR_PARAMS, f"invalid request: {exc}")
        reply.fault_kind = fault.kind if fault is not None else None
        return reply

    def _authorised(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            login, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
            expected = self.config.managers.get(int(login))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    def _route(
        self, method: str, parts: list[str], query: dict[str, str], body: dict[str, Any]
    ) -> GatewayReply:
        if parts == ["ping"]:
            return GatewayReply(200, {"ok": True})
        if parts == ["users"] and method == "POST":
            return GatewayReply(201, self._create_user(body))
        if len(parts) >= 2 and parts[0] == "users":
            login = int(parts[1])
            if len(parts) == 2 and method == "GET":
                return GatewayReply(200, self._user(login))
            if len(parts) == 2 and method == "PATCH":
                self.server.update_user(
                    login,
                    leverage=int(body["leverage"]) if "leverage" in body else None,
                    group=str(body["group"]) if "group" in body else None,
                    name=None,
                    rights=None,
                    email=None,
                )
                return GatewayReply(200, self._user(login))
            if parts[2:] == ["password"] and method == "POST":
                self.server.change_password(login, str(body.get("kind", "main")), str(body["password"]))
                return GatewayReply(200, {"ok": True})
            if parts[2:] == ["balance"] and method == "POST":
                cmd = int(body["cmd"])
                if cmd not in (MT4_BALANCE, MT4_CREDIT):
                    raise Refusal(Retcode.ERR_PARAMS, "cmd must be 6 (balance) or 7 (credit)")
                kind = DealAction.BALANCE if cmd == MT4_BALANCE else DealAction.CREDIT
                deal = self.server.balance_operation(
                    login, kind, Decimal(str(body["amount"])), str(body.get("comment", ""))
                )
                return GatewayReply(200, {"order": deal.ticket})
        if parts == ["trades"] and method == "GET":
            return GatewayReply(200, self._trades(query, closed_window=True))
        if parts == ["trades", "open"] and method == "GET":
            return GatewayReply(200, self._trades(query, closed_window=False))
        raise Refusal(Retcode.ERR_NOTFOUND, "no such gateway route")

    def _create_user(self, body: dict[str, Any]) -> dict[str, Any]:
        check_password_rules(str(body["password"]))
        user = self.server.add_user(
            login=int(body.get("login", 0)),
            group=str(body["group"]),
            name=str(body["name"]),
            leverage=int(body["leverage"]),
            password_main=str(body["password"]),
            password_investor=str(body["password_investor"]),
            email=str(body.get("email", "")),
            rights=0x1E3,
        )
        return self._user(user.login)

    def _user(self, login: int) -> dict[str, Any]:
        user = self.server.user(login)
        group = self.server.group(user.group)
        state = self.server.account_state(login)
        return {
            "login": user.login,
            "group": user.group,
            "name": user.name,
            "leverage": user.leverage,
            "currency": group.currency,
            "currency_digits": group.currency_digits,
            "balance": _money(state.balance),
            "credit": _money(state.credit),
            "equity": _money(state.equity),
            "margin": _money(state.margin),
            "margin_free": _money(state.margin_free),
        }

    def _logins(self, query: dict[str, str]) -> set[int]:
        if query.get("logins"):
            return {int(item) for item in query["logins"].split(",") if item.strip()}
        return set(self.server.logins_in(query.get("group") or "*"))

    def _trades(self, query: dict[str, str], *, closed_window: bool) -> list[dict[str, Any]]:
        logins = self._logins(query)
        since = int(query.get("from", 0))
        until = int(query.get("to", 2**62))
        records = self._all_records(logins)
        if not closed_window:
            return [r for r in records if r["close_time"] == 0 and r["cmd"] in (0, 1)]
        return [
            r
            for r in records
            if since <= r["open_time"] <= until or (r["close_time"] and since <= r["close_time"] <= until)
        ]

    def _all_records(self, logins: set[int]) -> list[dict[str, Any]]:
        by_position: dict[int, list[DealRecord]] = {}
        records: list[dict[str, Any]] = []
        for deal in sorted(self.server.deals.values(), key=lambda d: (d.time_msc, d.ticket)):
            if deal.login not in logins:
                continue
            if deal.action in (DealAction.BALANCE, DealAction.CREDIT):
                records.append(self._money_record(deal))
            elif deal.action in (DealAction.BUY, DealAction.SELL):
                by_position.setdefault(deal.position_id, []).append(deal)
        for position_id, deals in by_position.items():
            records += self._orders_of(position_id, deals)
        return sorted(records, key=lambda r: r["order"])

    @staticmethod
    def _money_record(deal: DealRecord) -> dict[str, Any]:
        seconds = deal.time_msc // 1000
        return {
            "order": deal.ticket,
            "login": deal.login,
            "symbol": "",
            "cmd": MT4_BALANCE if deal.action == DealAction.BALANCE else MT4_CREDIT,
            "volume": 0,
            "open_time": seconds,
            "close_time": seconds,
            "open_price": "0",
            "close_price": "0",
            "commission": "0",
            "commission_agent": "0",
            "storage": "0",
            "profit": _money(deal.profit),
            "comment": deal.comment,
            "digits": 0,
            "currency_digits": deal.digits_currency,
        }

    def _orders_of(self, position_id: int, deals: list[DealRecord]) -> list[dict[str, Any]]:
        """One order per position, one more per partial close (see the module docstring)."""
        opening = deals[0]
        side = opening.action
        still_open = position_id in self.server.positions
        orders = []
        in_commission = sum((d.commission for d in deals if d.entry == DealEntry.IN), Decimal(0))
        in_volume = sum(d.volume_ext for d in deals if d.entry == DealEntry.IN)
        closes = [d for d in deals if d.entry in (DealEntry.OUT, DealEntry.INOUT)]
        final = None if still_open or not closes else closes[-1]
        base = {
            "login": opening.login,
            "symbol": opening.symbol,
            "cmd": int(side),
            "open_time": opening.time_msc // 1000,
            "open_price": _money(opening.price),
            "commission_agent": "0",
            "digits": opening.digits,
            "currency_digits": opening.digits_currency,
            "comment": opening.comment,
        }
        for close in closes:
            if close is final:
                continue
            orders.append(
                {
                    **base,
                    "order": close.ticket,
                    "volume": int(ext_to_lots(close.volume_closed_ext) * 100),
                    "close_time": close.time_msc // 1000,
                    "close_price": _money(close.price),
                    "commission": _money(close.commission),
                    "storage": _money(close.storage),
                    "profit": _money(close.profit),
                }
            )
        remaining = in_volume - sum(d.volume_closed_ext for d in closes if d is not final)
        orders.append(
            {
                **base,
                "order": position_id,
                "volume": int(ext_to_lots(remaining) * 100),
                "close_time": 0 if final is None else final.time_msc // 1000,
                "close_price": "0" if final is None else _money(final.price),
                "commission": _money(in_commission + (final.commission if final is not None else 0)),
                "storage": "0" if final is None else _money(final.storage),
                "profit": "0" if final is None else _money(final.profit),
            }
        )
        return orders
