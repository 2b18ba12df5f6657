"""The emulator's endpoints: parse a request, apply it to the :class:`TradeServer`, answer.

Parameters come from the query string and, for POST, from a JSON body (keys matched without
regard to case). Passwords are accepted only from the body. Every answer is
``{"retcode": "<code> <text>", ...}`` with numbers as strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from mt_bridge.emulator.config import EmulatorConfig
from mt_bridge.emulator.faults import Fault, FaultInjector, FaultKind
from mt_bridge.emulator.session import VERSION_ACCESS, VERSION_TRADE, Session
from mt_bridge.emulator.state import Refusal, TradeServer, lots_to_ext
from mt_bridge.emulator.trading import close_position, market_deal
from mt_bridge.emulator.wire import account_json, deal_wire, group_json, position_json, user_json
from mt_bridge.records import PositionSide
from mt_bridge.retcodes import Retcode, format_retcode

PAGE_LIMIT = 100
PASSWORD_KEYS = {"passmain", "passinvestor", "password", "pass_main", "pass_investor", "passapi"}
OPEN_ENDPOINTS = {"/api/auth/start", "/api/auth/answer"}


@dataclass
class ApiRequest:
    """One request as the endpoints see it."""

    path: str
    query: dict[str, str]
    body: Any = None

    def get(self, name: str) -> str | None:
        """A parameter from the query string, else from a JSON object body."""
        lowered = name.lower()
        if lowered in self.query:
            return self.query[lowered]
        if isinstance(self.body, dict):
            for key, value in self.body.items():
                if key.lower() == lowered:
                    return None if value is None else str(value)
        return None

    def require(self, name: str) -> str:
        """A parameter that must be present and non-empty."""
        value = self.get(name)
        if value is None or value == "":
            raise Refusal(Retcode.ERR_PARAMS, f"{name} is required")
        return value

    def integer(self, name: str, default: int | None = None) -> int:
        """An integer parameter."""
        value = self.get(name)
        if value is None or value == "":
            if default is None:
                raise Refusal(Retcode.ERR_PARAMS, f"{name} is required")
            return default
        try:
            return int(value)
        except ValueError as exc:
            raise Refusal(Retcode.ERR_PARAMS, f"{name} must be an integer") from exc

    def decimal(self, name: str) -> Decimal:
        """A decimal parameter."""
        value = self.require(name)
        try:
            number = Decimal(value)
        except InvalidOperation as exc:
            raise Refusal(Retcode.ERR_PARAMS, f"{name} must be a number") from exc
        if not number.is_finite():
            raise Refusal(Retcode.ERR_PARAMS, f"{name} must be finite")
        return number

    def integers(self, name: str) -> list[int] | None:
        """A comma-separated list of integers, or None when absent."""
        value = self.get(name)
        if not value:
            return None
        try:
            return [int(item) for item in value.split(",") if item.strip()]
        except ValueError as exc:
            raise Refusal(Retcode.ERR_PARAMS, f"{name} must list integers") from exc

    def password(self, name: str) -> str:
        """A password, which must come in the JSON body, never the query string."""
        if isinstance(self.body, dict):
            for key, value in self.body.items():
                if key.lower() == name.lower() and isinstance(value, str):
                    return value
        raise Refusal(Retcode.ERR_PARAMS, f"{name} is required in the JSON body")


@dataclass
class ApiReply:
    """The answer to send, and the fault to inflict while sending it."""

    payload: Any
    status: int = 200
    fault: Fault | None = None
    raw: bool = False
    """True for MT4 gateway answers: sent as plain JSON, numbers not turned into strings."""


def refusal_payload(retcode: int) -> dict[str, Any]:
    return {"retcode": format_retcode(retcode)}


def done(**fields: Any) -> dict[str, Any]:
    return {"retcode": format_retcode(Retcode.DONE), **fields}


@dataclass
class Mt5Api:
    """Routes requests to endpoint handlers for one shared :class:`TradeServer`."""

    server: TradeServer
    faults: FaultInjector
    config: EmulatorConfig
    routes: dict[str, Callable[[ApiRequest], dict[str, Any]]] = field(init=False)

    def __post_init__(self) -> None:
        self.routes = {
            "/api/test/access": lambda request: done(),
            "/api/user/add": self.user_add,
            "/api/user/update": self.user_update,
            "/api/user/delete": self.user_delete,
            "/api/user/get": self.user_get,
            "/api/user/account/get": self.user_account_get,
            "/api/user/change_password": self.user_change_password,
            "/api/user/logins": self.user_logins,
            "/api/trade/balance": self.trade_balance,
            "/api/deal/get": self.deal_get,
            "/api/deal/get_total": self.deal_get_total,
            "/api/deal/get_page": self.deal_get_page,
            "/api/deal/get_batch": self.deal_get_batch,
            "/api/deal/update": self.deal_update,
            "/api/deal/delete": self.deal_delete,
            "/api/position/get_total": self.position_get_total,
            "/api/position/get_page": self.position_get_page,
            "/api/position/get_batch": self.position_get_batch,
            "/api/group/get": self.group_get,
            "/api/dealer/send_request": self.dealer_send_request,
        }

    def handle(self, session: Session, request: ApiRequest) -> ApiReply:
        """Answer one request in ``session``; refusals become retcodes, never exceptions."""
        session.requests += 1
        try:
            if any(key in PASSWORD_KEYS for key in request.query):
                raise Refusal(Retcode.ERR_PARAMS, "passwords go in the JSON body, not the query string")
            if request.path == "/api/auth/start":
                srv_rand = session.start(request.query)
                return ApiReply(done(version_access=VERSION_ACCESS, srv_rand=srv_rand))
            if request.path == "/api/auth/answer":
                cli_rand_answer = session.answer(
                    request.query, self.config.managers, self.config.auth_window_seconds
                )
                return ApiReply(
                    done(
                        version_access=VERSION_ACCESS,
                        version_trade=VERSION_TRADE,
                        cli_rand_answer=cli_rand_answer,
                    )
                )
            if request.path == "/api/quit":
                session.end()
                return ApiReply(done())
            handler = self.routes.get(request.path)
            if handler is None:
                return ApiReply(refusal_payload(Retcode.ERR_NOTFOUND), status=404)
            if not session.authenticated:
                # Reading chosen for an uncertain point: calls before authentication get retcode 8.
                raise Refusal(Retcode.ERR_PERMISSIONS, "not authenticated on this connection")
            fault = self.faults.decide(request.path)
            if fault is not None and fault.kind == FaultKind.ERROR:
                return ApiReply(refusal_payload(fault.retcode), fault=fault)
            if fault is not None and fault.kind == FaultKind.DROP_BEFORE_APPLY:
                return ApiReply(refusal_payload(Retcode.ERR_CONNECTION), fault=fault)
            return ApiReply(handler(request), fault=fault)
        except Refusal as refusal:
            return ApiReply(refusal_payload(refusal.retcode))

    # --- users ------------------------------------------------------------------------------
    def user_add(self, request: ApiRequest) -> dict[str, Any]:
        user = self.server.add_user(
            login=request.integer("login", 0),
            group=request.require("group"),
            name=request.require("name"),
            leverage=request.integer("leverage"),
            password_main=request.password("PassMain"),
            password_investor=request.password("PassInvestor"),
            email=request.get("EMail") or "",
            rights=request.integer("rights", 0x1E3),
        )
        return done(login=user.login, answer=user_json(user, self.server.group(user.group)))

    def user_update(self, request: ApiRequest) -> dict[str, Any]:
        leverage = request.get("leverage")
        rights = request.get("rights")
        user = self.server.update_user(
            request.integer("login"),
            leverage=request.integer("leverage") if leverage else None,
            group=request.get("group") or None,
            name=request.get("name"),
            rights=request.integer("rights") if rights else None,
            email=request.get("email"),
        )
        return done(answer=user_json(user, self.server.group(user.group)))

    def user_delete(self, request: ApiRequest) -> dict[str, Any]:
        self.server.delete_user(request.integer("login"))
        return done()

    def user_get(self, request: ApiRequest) -> dict[str, Any]:
        user = self.server.user(request.integer("login"))
        return done(answer=user_json(user, self.server.group(user.group)))

    def user_account_get(self, request: ApiRequest) -> dict[str, Any]:
        return done(answer=account_json(self.server.account_state(request.integer("login"))))

    def user_change_password(self, request: ApiRequest) -> dict[str, Any]:
        kind = (request.get("type") or "main").lower()
        self.server.change_password(request.integer("login"), kind, request.password("Password"))
        return done()

    def user_logins(self, request: ApiRequest) -> dict[str, Any]:
        return done(answer=[str(login) for login in self.server.logins_in(request.require("group"))])

    # --- money ------------------------------------------------------------------------------
    def trade_balance(self, request: ApiRequest) -> dict[str, Any]:
        deal = self.server.balance_operation(
            request.integer("login"),
            request.integer("type"),
            request.decimal("balance"),
            request.get("comment") or "",
            check_margin=request.integer("check_margin", 1) != 0,
        )
        return done(answer={"Ticket": deal.ticket})

    # --- deals ------------------------------------------------------------------------------
    def deal_get(self, request: ApiRequest) -> dict[str, Any]:
        return done(answer=deal_wire(self.server.deal(request.integer("ticket"))))

    def _login_window(self, request: ApiRequest) -> tuple[int, int, int]:
        login = request.integer("login")
        self.server.user(login)
        return login, request.integer("from"), request.integer("to")

    def deal_get_total(self, request: ApiRequest) -> dict[str, Any]:
        login, since, until = self._login_window(request)
        # Reading chosen: the key is "Total", inside "answer", as the docs' example shows.
        return done(answer={"Total": len(self.server.deals_between([login], since, until))})

    def deal_get_page(self, request: ApiRequest) -> dict[str, Any]:
        login, since, until = self._login_window(request)
        offset, total = self._page(request)
        deals = self.server.deals_between([login], since, until)[offset : offset + total]
        return done(answer=[deal_wire(deal) for deal in deals])

    def deal_get_batch(self, request: ApiRequest) -> dict[str, Any]:
        logins, tickets, mask = (
            request.integers("login"),
            request.integers("ticket"),
            request.get("group") or "",
        )
        if logins is None and tickets is None and not mask:
            raise Refusal(Retcode.ERR_PARAMS, "one of login, group or ticket is required")
        since = request.integer("from", 0)
        until = request.integer("to", 2**62)
        deals = self.server.deals_between(
            logins, since, until, group_mask=mask, tickets=tickets, symbol=request.get("symbol") or ""
        )
        return done(answer=[deal_wire(deal) for deal in deals])

    def deal_update(self, request: ApiRequest) -> dict[str, Any]:
        ticket = request.integer("ticket", 0) or request.integer("deal")
        changes: dict[str, Decimal | str] = {}
        for field_name in ("Profit", "Commission", "Storage", "Fee", "Price"):
            if request.get(field_name) is not None:
                changes[field_name.lower()] = request.decimal(field_name)
        comment = request.get("Comment")
        if comment is not None:
            changes["comment"] = comment
        return done(answer=deal_wire(self.server.update_deal(ticket, changes)))

    def deal_delete(self, request: ApiRequest) -> dict[str, Any]:
        self.server.delete_deal(request.integer("ticket"))
        return done()

    # --- positions --------------------------------------------------------------------------
    def _position_answer(self, positions: list[Any]) -> list[dict[str, Any]]:
        answers = []
        for position in positions:
            group = self.server.group_of(position.login)
            quote = self.server.market.quote(position.symbol)
            current = quote.bid if position.side == PositionSide.BUY else quote.ask
            profit = self.server.floating_profit(position, group)
            answers.append(position_json(position, profit, current))
        return answers

    def position_get_total(self, request: ApiRequest) -> dict[str, Any]:
        login = request.integer("login")
        self.server.user(login)
        return done(answer={"Total": len(self.server.positions_of([login]))})

    def position_get_page(self, request: ApiRequest) -> dict[str, Any]:
        login = request.integer("login")
        self.server.user(login)
        offset, total = self._page(request)
        return done(answer=self._position_answer(self.server.positions_of([login])[offset : offset + total]))

    def position_get_batch(self, request: ApiRequest) -> dict[str, Any]:
        logins, tickets, mask = (
            request.integers("login"),
            request.integers("ticket"),
            request.get("group") or "",
        )
        if logins is None and tickets is None and not mask:
            raise Refusal(Retcode.ERR_PARAMS, "one of login, group or ticket is required")
        positions = self.server.positions_of(
            logins, group_mask=mask, tickets=tickets, symbol=request.get("symbol") or ""
        )
        return done(answer=self._position_answer(positions))

    # --- groups and trading -----------------------------------------------------------------
    def group_get(self, request: ApiRequest) -> dict[str, Any]:
        name = request.get("group")
        if name:
            return done(answer=group_json(self.server.group(name)))
        mask = request.require("mask")
        return done(answer=[group_json(group) for group in self.server.groups_matching(mask)])

    def dealer_send_request(self, request: ApiRequest) -> dict[str, Any]:
        """A dealer's market execution, simplified: executed at once, the deal ticket answered."""
        login = request.integer("login")
        volume_ext = request.integer("VolumeExt", 0) or request.integer("Volume") * 10_000
        lots = Decimal(volume_ext) / 100_000_000
        position_ticket = request.integer("Position", 0)
        if position_ticket:
            deal = close_position(self.server, position_ticket, lots)
        else:
            try:
                side = PositionSide(request.integer("Type"))
            except ValueError as exc:
                raise Refusal(Retcode.ERR_PARAMS, "Type must be 0 (buy) or 1 (sell)") from exc
            deal = market_deal(self.server, login, request.require("Symbol"), side, lots)
        return done(answer={"Deal": deal.ticket, "Order": deal.order, "VolumeExt": lots_to_ext(lots)})

    @staticmethod
    def _page(request: ApiRequest) -> tuple[int, int]:
        offset = request.integer("offset", 0)
        total = request.integer("total", PAGE_LIMIT)
        if offset < 0 or not 0 < total <= PAGE_LIMIT:
            raise Refusal(Retcode.ERR_PARAMS, f"offset must be >= 0 and total 1..{PAGE_LIMIT}")
        return offset, total
