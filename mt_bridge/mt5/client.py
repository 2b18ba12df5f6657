"""The MT5 Web API adapter: :class:`TradingPlatform` over one :class:`Mt5Connection`."""

from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter
from typing import Any

from mt_bridge.errors import InvalidParametersError, ProtocolError
from mt_bridge.money import from_minor_units
from mt_bridge.mt5.connection import Mt5Connection
from mt_bridge.mt5.mapping import account_from_records, deal_from_record, position_from_record
from mt_bridge.mt5.numbers import find_field, int_field, str_field
from mt_bridge.mt5.plain_deals import deals_from_answer
from mt_bridge.mt5.settings import Mt5ServerSettings
from mt_bridge.platform import DealQuery, PositionQuery
from mt_bridge.records import AccountInfo, BalanceOperation, Deal, NewAccount, PasswordKind, Position
from mt_bridge.server_time import ServerClock

PAGE_SIZE = 100
"""The Web API's largest page for ``get_page`` calls."""
MAX_COMMENT_LENGTH = 31
"""MT keeps 32 bytes for a comment, including its terminating zero."""
WINDOW_MARGIN_SECONDS = 1
"""Whether ``from``/``to`` are inclusive is undocumented, so we ask one second wider on each
side and cut the answer to the exact half-open window ourselves."""
_DEAL_ORDER = attrgetter("server_time_msc", "ticket")
"""Deals come back in server time order, ties by ticket."""


class Mt5WebApiPlatform:
    """A :class:`~mt_bridge.platform.TradingPlatform` for one MT5 server's Web API."""

    def __init__(self, settings: Mt5ServerSettings, connection: Mt5Connection | None = None) -> None:
        self.settings = settings
        self.connection = connection or Mt5Connection(settings)
        self._clock = ServerClock(settings.server_offset)
        self._group_currency: dict[str, tuple[str, int]] = {}

    async def create_account(self, account: NewAccount) -> AccountInfo:
        params: dict[str, str | int] = {
            "login": account.login,
            "group": account.group,
            "name": account.name,
            "leverage": account.leverage,
        }
        body: dict[str, str] = {
            "PassMain": account.main_password,
            "PassInvestor": account.investor_password,
        }
        if account.email:
            body["EMail"] = account.email
        answer = await self.connection.call("/api/user/add", params, body, changes_state=True)
        user = _object(answer.get("answer"), "/api/user/add")
        if find_field(user, "Login") in (None, "", "0") and find_field(answer, "login") is not None:
            user = {**user, "Login": find_field(answer, "login")}
        currency, digits = await self._currency_of(str_field(user, "Group", account.group))
        return account_from_records(user, None, currency, digits)

    async def get_account(self, login: int) -> AccountInfo:
        user = await self._read_object("/api/user/get", {"login": login})
        state = await self._read_object("/api/user/account/get", {"login": login})
        currency, digits = await self._currency_of(str_field(user, "Group"))
        return account_from_records(user, state, currency, digits)

    async def change_leverage(self, login: int, leverage: int) -> AccountInfo:
        await self.connection.call(
            "/api/user/update", {"login": login, "leverage": leverage}, None, changes_state=True
        )
        return await self.get_account(login)

    async def change_group(self, login: int, group: str) -> AccountInfo:
        await self.connection.call(
            "/api/user/update", {"login": login, "group": group}, None, changes_state=True
        )
        return await self.get_account(login)

    async def change_password(self, login: int, kind: PasswordKind, password: str) -> None:
        body = {"Login": str(login), "Type": kind.value, "Password": password}
        await self.connection.call("/api/user/change_password", None, body, changes_state=True)

    async def post_balance_operation(self, operation: BalanceOperation) -> int:
        if len(operation.comment) > MAX_COMMENT_LENGTH:
            raise InvalidParametersError(
                3, f"comment longer than {MAX_COMMENT_LENGTH} characters", "/api/trade/balance"
            )
        amount = from_minor_units(operation.amount, operation.currency_digits)
        params: dict[str, str | int] = {
            "login": operation.login,
            "type": int(operation.kind),
            "balance": str(amount),
            "comment": operation.comment,
            "check_margin": 1 if operation.check_margin else 0,
        }
        answer = await self.connection.call("/api/trade/balance", params, None, changes_state=True)
        result = _object(answer.get("answer"), "/api/trade/balance")
        return int_field(result, "Ticket")

    async def fetch_deals(self, query: DealQuery) -> list[Deal]:
        window = {
            "from": self._clock.server_seconds_from_utc(query.since) - WINDOW_MARGIN_SECONDS,
            "to": self._clock.server_seconds_from_utc(query.until) + WINDOW_MARGIN_SECONDS,
        }
        aliases = self.settings.symbol_aliases
        deals: list[Deal] = []
        if query.group:
            answer = await self.connection.call(
                "/api/deal/get_batch",
                {"group": query.group, **window},
                None,
                changes_state=False,
                raw_answer=True,
            )
            deals = deals_from_answer(answer["answer"], self._clock, aliases)
        else:
            for login in query.logins:
                records = await self._read_pages("/api/deal", {"login": login, **window})
                deals += [deal_from_record(_object(r, "deal"), self._clock, aliases) for r in records]
        in_window = [deal for deal in deals if query.since <= deal.time < query.until]
        return sorted({deal.ticket: deal for deal in in_window}.values(), key=_DEAL_ORDER)

    async def fetch_positions(self, query: PositionQuery) -> list[Position]:
        records: list[Any] = []
        if query.group:
            records = await self._read_list("/api/position/get_batch", {"group": query.group})
        else:
            for login in query.logins:
                records += await self._read_pages("/api/position", {"login": login})
        positions = [
            position_from_record(_object(r, "position"), self._clock, self.settings.symbol_aliases)
            for r in records
        ]
        return sorted({p.ticket: p for p in positions}.values(), key=lambda p: p.ticket)

    async def ping(self) -> None:
        await self.connection.ping()

    async def close(self) -> None:
        await self.connection.close()

    async def _currency_of(self, group: str) -> tuple[str, int]:
        """A group's deposit currency and its digits, read once per group."""
        if group not in self._group_currency:
            record = await self._read_object("/api/group/get", {"group": group})
            self._group_currency[group] = (
                str_field(record, "Currency"),
                int_field(record, "CurrencyDigits", 2),
            )
        return self._group_currency[group]

    async def _read_object(self, path: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        answer = await self.connection.call(path, params, None, changes_state=False)
        return _object(answer.get("answer"), path)

    async def _read_list(self, path: str, params: Mapping[str, str | int]) -> list[Any]:
        answer = await self.connection.call(path, params, None, changes_state=False)
        items = answer.get("answer", [])
        if not isinstance(items, list):
            raise ProtocolError(f"{path} should answer a list")
        return items

    async def _read_pages(self, prefix: str, params: Mapping[str, str | int]) -> list[Any]:
        """Every record behind ``<prefix>/get_total`` through ``<prefix>/get_page``, 100 at a time."""
        totals = await self.connection.call(f"{prefix}/get_total", params, None, changes_state=False)
        total = total_from_answer(totals)
        records: list[Any] = []
        offset = 0
        while offset < total:
            page = await self._read_list(
                f"{prefix}/get_page", {**params, "offset": offset, "total": min(PAGE_SIZE, total - offset)}
            )
            if not page:
                break
            records += page
            offset += len(page)
        return records


def total_from_answer(answer: Mapping[str, Any]) -> int:
    """The count in a ``get_total`` answer, wherever the server put it.

    The docs show ``{"Total": "10"}``; some servers nest it in ``answer``, some spell it
    ``total``. Every one of these readings is accepted.
    """
    holder = answer.get("answer")
    value = find_field(holder, "total") if isinstance(holder, Mapping) else None
    if value is None:
        value = find_field(answer, "total")
    return int_field({"total": value}, "total")


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} should answer an object, got {type(value).__name__}")
    return value
