"""The MT4 adapter: :class:`TradingPlatform` over a Manager-API gateway's HTTP interface.

The gateway is stateless (HTTP Basic per request), so one keep-alive client is enough and a lost
connection needs no new session. A change whose request was sent but not answered is an unknown
outcome for the outbox to resolve; a read is simply retried once.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from mt_bridge.errors import (
    InvalidParametersError,
    OutcomeUnknownError,
    PlatformUnavailableError,
    ProtocolError,
    error_for_retcode,
)
from mt_bridge.money import from_minor_units
from mt_bridge.mt4.mapping import (
    CMD_BALANCE,
    CMD_CREDIT,
    account_from_user,
    deals_from_trade,
    in_leg_ticket,
    position_from_trade,
)
from mt_bridge.platform import DealQuery, PositionQuery
from mt_bridge.records import (
    AccountInfo,
    BalanceOperation,
    BalanceOperationType,
    Deal,
    NewAccount,
    PasswordKind,
    Position,
)
from mt_bridge.retcodes import Retcode
from mt_bridge.server_time import ServerClock
from mt_bridge.symbols import NO_ALIASES, SymbolAliases

WINDOW_MARGIN_SECONDS = 1
RETCODE_FOR_STATUS = {
    400: Retcode.ERR_PARAMS,
    401: Retcode.ERR_PERMISSIONS,
    403: Retcode.ERR_PERMISSIONS,
    404: Retcode.ERR_NOTFOUND,
    409: Retcode.USR_LOGIN_EXIST,
    422: Retcode.REQUEST_NO_MONEY,
}


@dataclass(frozen=True)
class Mt4GatewaySettings:
    """One MT4 server's gateway and the manager account it acts as."""

    base_url: str
    manager_login: int
    manager_password: str = field(repr=False)
    server_offset: timedelta = timedelta(0)
    """How far the MT4 server's clock runs ahead of UTC."""
    symbol_aliases: SymbolAliases = NO_ALIASES
    verify: ssl.SSLContext | bool = True
    request_timeout: float = 30.0
    connect_timeout: float = 5.0


class Mt4GatewayPlatform:
    """A :class:`~mt_bridge.platform.TradingPlatform` for one MT4 server behind a gateway."""

    def __init__(self, settings: Mt4GatewaySettings) -> None:
        self.settings = settings
        self._clock = ServerClock(settings.server_offset)
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            auth=httpx.BasicAuth(str(settings.manager_login), settings.manager_password),
            verify=settings.verify,
            timeout=httpx.Timeout(settings.request_timeout, connect=settings.connect_timeout),
            headers={"Connection": "keep-alive"},
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        changes_state: bool,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        for attempt in (1, 2):
            try:
                response = await self._http.request(method, path, params=params, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if attempt == 2:
                    raise PlatformUnavailableError(f"{path}: {exc}") from exc
                continue
            except httpx.TransportError as exc:
                if changes_state:
                    raise OutcomeUnknownError(f"{path} was sent but not answered: {exc}") from exc
                if attempt == 2:
                    raise PlatformUnavailableError(f"{path}: {exc}") from exc
                continue
            return self._answer(response, path, changes_state)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _answer(response: httpx.Response, path: str, changes_state: bool) -> Any:
        try:
            payload = response.json()
        except ValueError as exc:
            if response.status_code >= 500 and changes_state:
                raise OutcomeUnknownError(f"{path}: gateway answered {response.status_code}") from exc
            raise ProtocolError(f"{path}: the gateway's answer is not JSON") from exc
        if response.is_success:
            return payload
        error = payload.get("error") if isinstance(payload, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        if code is None:
            if response.status_code >= 500 and changes_state:
                raise OutcomeUnknownError(f"{path}: gateway answered {response.status_code}")
            code = RETCODE_FOR_STATUS.get(response.status_code, Retcode.ERR_COMMON)
        raise error_for_retcode(int(code), message, path)

    async def create_account(self, account: NewAccount) -> AccountInfo:
        body = {
            "login": account.login,
            "group": account.group,
            "name": account.name,
            "leverage": account.leverage,
            "password": account.main_password,
            "password_investor": account.investor_password,
            "email": account.email,
        }
        return account_from_user(await self._call("POST", "/v1/users", changes_state=True, body=body))

    async def get_account(self, login: int) -> AccountInfo:
        return account_from_user(await self._call("GET", f"/v1/users/{login}", changes_state=False))

    async def change_leverage(self, login: int, leverage: int) -> AccountInfo:
        user = await self._call(
            "PATCH", f"/v1/users/{login}", changes_state=True, body={"leverage": leverage}
        )
        return account_from_user(user)

    async def change_group(self, login: int, group: str) -> AccountInfo:
        user = await self._call("PATCH", f"/v1/users/{login}", changes_state=True, body={"group": group})
        return account_from_user(user)

    async def change_password(self, login: int, kind: PasswordKind, password: str) -> None:
        if kind is PasswordKind.API:
            raise InvalidParametersError(Retcode.ERR_PARAMS, "MT4 has no API password", "/v1/users/password")
        body = {"kind": kind.value, "password": password}
        await self._call("POST", f"/v1/users/{login}/password", changes_state=True, body=body)

    async def post_balance_operation(self, operation: BalanceOperation) -> int:
        """MT4 knows balance and credit records only; charges, corrections and bonuses are balance."""
        cmd = CMD_CREDIT if operation.kind is BalanceOperationType.CREDIT else CMD_BALANCE
        body = {
            "cmd": cmd,
            "amount": str(from_minor_units(operation.amount, operation.currency_digits)),
            "comment": operation.comment,
        }
        answer = await self._call(
            "POST", f"/v1/users/{operation.login}/balance", changes_state=True, body=body
        )
        if not isinstance(answer, dict) or "order" not in answer:
            raise ProtocolError("the gateway's balance answer lacks the order")
        return in_leg_ticket(int(answer["order"]))

    async def fetch_deals(self, query: DealQuery) -> list[Deal]:
        params: dict[str, Any] = {
            "from": self._clock.server_seconds_from_utc(query.since) - WINDOW_MARGIN_SECONDS,
            "to": self._clock.server_seconds_from_utc(query.until) + WINDOW_MARGIN_SECONDS,
        }
        if query.group:
            params["group"] = query.group
        else:
            params["logins"] = ",".join(str(login) for login in query.logins)
        records = await self._call("GET", "/v1/trades", changes_state=False, params=params)
        if not isinstance(records, list):
            raise ProtocolError("/v1/trades should answer a list")
        aliases = self.settings.symbol_aliases
        legs = [leg for record in records for leg in deals_from_trade(record, self._clock, aliases)]
        in_window = [leg for leg in legs if query.since <= leg.time < query.until]
        return sorted({d.ticket: d for d in in_window}.values(), key=lambda d: (d.server_time_msc, d.ticket))

    async def fetch_positions(self, query: PositionQuery) -> list[Position]:
        params = {"group": query.group} if query.group else {"logins": ",".join(map(str, query.logins))}
        records = await self._call("GET", "/v1/trades/open", changes_state=False, params=params)
        if not isinstance(records, list):
            raise ProtocolError("/v1/trades/open should answer a list")
        return [position_from_trade(r, self._clock, self.settings.symbol_aliases) for r in records]

    async def ping(self) -> None:
        await self._call("GET", "/v1/ping", changes_state=False)

    async def close(self) -> None:
        await self._http.aclose()
