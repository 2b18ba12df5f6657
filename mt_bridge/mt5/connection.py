"""One authenticated keep-alive connection to an MT5 access server.

The server keeps its session per TCP connection, so everything here is about knowing which
connection a request travelled on:

- requests are serialised by a lock, and the pool holds a single connection;
- every answer says which local socket carried it; an answer from a socket other than the one
  we signed in on means the old connection was lost and the server saw us unauthenticated, so
  a refusal there is safe to retry after signing in again (nothing was applied);
- a request that was sent but never answered is an unknown outcome for a change, and is
  retried only when it merely reads;
- a background task pings after ``ping_interval`` seconds of silence and signs in again
  when the connection had been lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from mt_bridge.errors import (
    MtBridgeError,
    OutcomeUnknownError,
    PlatformUnavailableError,
    ProtocolError,
    ServerAuthenticationError,
    error_for_retcode,
)
from mt_bridge.mt5.auth import answers_match, challenge_answer, new_rand, password_hash
from mt_bridge.mt5.numbers import parse_envelope, parse_json
from mt_bridge.mt5.settings import Mt5ServerSettings
from mt_bridge.retcodes import Retcode, parse_retcode

logger = logging.getLogger(__name__)

KEEPALIVE_EXPIRY_SECONDS = 170.0
"""Our side closes an idle pooled connection just before the server's 180 s silence limit."""

PING_PATH = "/api/test/access"


@dataclass(frozen=True, slots=True)
class _Exchange:
    """One answer and the local socket address it arrived on (None when the transport can't say)."""

    answer: dict[str, Any]
    retcode: int
    text: str
    socket: object | None


class Mt5Connection:
    """The single, serialised, authenticated connection to one MT5 server."""

    def __init__(self, settings: Mt5ServerSettings) -> None:
        self._settings = settings
        self._hashed_password = password_hash(settings.manager_password)
        self._lock = asyncio.Lock()
        self._http: httpx.AsyncClient | None = None
        self._session_socket: object | None = None
        self._authenticated = False
        self._last_activity = time.monotonic()
        self._pinger: asyncio.Task[None] | None = None
        self.sign_ins = 0
        """How many times this connection has authenticated; tests and metrics read it."""

    @property
    def session_address(self) -> object | None:
        """The local address of the connection our session lives on; None when signed out."""
        return self._session_socket

    @property
    def authenticated(self) -> bool:
        """True while we hold a session we believe the server still has."""
        return self._authenticated

    async def call(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        *,
        changes_state: bool,
        raw_answer: bool = False,
    ) -> dict[str, Any]:
        """Send one request in the session and return its answer when its retcode is 0.

        ``changes_state`` marks requests that apply something on the server: those are never
        re-sent after an unanswered attempt, because the first one may have been applied.
        With ``raw_answer`` the answer holds only ``retcode`` and ``answer``, the latter as raw
        JSON bytes (see :func:`~mt_bridge.mt5.numbers.parse_envelope`).
        """
        async with self._lock:
            self._ensure_pinger()
            return await self._call_locked(
                path, params, body, changes_state=changes_state, raw_answer=raw_answer
            )

    async def ping(self) -> None:
        """Ask the server for ``/api/test/access``, signing in first if the session is gone."""
        await self.call(PING_PATH, changes_state=False)

    async def close(self) -> None:
        """Say ``/api/quit`` when signed in, stop pinging and close the socket."""
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinger
            self._pinger = None
        async with self._lock:
            if self._authenticated and self._http is not None:
                with contextlib.suppress(MtBridgeError, httpx.HTTPError):
                    await self._exchange("/api/quit", None, None)
            self._authenticated = False
            self._session_socket = None
            if self._http is not None:
                await self._http.aclose()
                self._http = None

    async def _call_locked(
        self,
        path: str,
        params: Mapping[str, str | int] | None,
        body: Any,
        *,
        changes_state: bool,
        raw_answer: bool = False,
    ) -> dict[str, Any]:
        for attempt in (1, 2):
            last_attempt = attempt == 2
            if not self._authenticated:
                await self._authenticate()
            try:
                exchange = await self._exchange(path, params, body, raw_answer=raw_answer)
            except _NotDelivered as exc:
                self._lose_session()
                if last_attempt:
                    raise PlatformUnavailableError(f"{path}: {exc}") from exc
                continue
            except _NotAnswered as exc:
                self._lose_session()
                if changes_state:
                    raise OutcomeUnknownError(f"{path} was sent but not answered: {exc}") from exc
                if last_attempt:
                    raise PlatformUnavailableError(f"{path}: {exc}") from exc
                continue
            fresh_connection = exchange.socket is not None and exchange.socket != self._session_socket
            if fresh_connection:
                # The old connection was lost; this request reached the server without a session.
                self._lose_session()
            if exchange.retcode == Retcode.DONE:
                return exchange.answer
            unauthenticated_refusal = fresh_connection or exchange.retcode == Retcode.ERR_PERMISSIONS
            if unauthenticated_refusal and not last_attempt:
                # A refusal applies nothing, so signing in again and repeating it is safe.
                self._lose_session()
                continue
            raise error_for_retcode(exchange.retcode, exchange.text, path)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    async def _authenticate(self) -> None:
        """The two-step MD5 challenge; both steps must travel on the same connection."""
        settings = self._settings
        for attempt in (1, 2):
            try:
                start = await self._exchange(
                    "/api/auth/start",
                    {
                        "version": settings.version,
                        "agent": settings.agent,
                        "login": settings.manager_login,
                        "type": "manager",
                    },
                    None,
                )
                if start.retcode != Retcode.DONE:
                    raise error_for_retcode(start.retcode, start.text, "/api/auth/start")
                srv_rand = str(start.answer.get("srv_rand", ""))
                try:
                    srv_rand_answer = challenge_answer(self._hashed_password, srv_rand)
                except ValueError as exc:
                    raise ProtocolError(f"srv_rand is not hex: {srv_rand!r}") from exc
                cli_rand = new_rand()
                finish = await self._exchange(
                    "/api/auth/answer", {"srv_rand_answer": srv_rand_answer, "cli_rand": cli_rand}, None
                )
            except (_NotDelivered, _NotAnswered) as exc:
                self._lose_session()
                if attempt == 2:
                    raise PlatformUnavailableError(f"authentication failed: {exc}") from exc
                continue
            if finish.socket != start.socket and attempt == 1:
                continue
            if finish.retcode != Retcode.DONE:
                raise error_for_retcode(finish.retcode, finish.text, "/api/auth/answer")
            expected = challenge_answer(self._hashed_password, cli_rand)
            if not answers_match(expected, str(finish.answer.get("cli_rand_answer", ""))):
                self._lose_session()
                raise ServerAuthenticationError(
                    "the server's cli_rand_answer is wrong: it does not know the manager password"
                )
            self._session_socket = finish.socket
            self._authenticated = True
            self.sign_ins += 1
            return

    async def _exchange(
        self, path: str, params: Mapping[str, str | int] | None, body: Any, *, raw_answer: bool = False
    ) -> _Exchange:
        """Send one request and read its answer, classifying transport failures."""
        http = self._client()
        try:
            if body is None:
                response = await http.get(path, params=dict(params or {}))
            else:
                response = await http.post(path, params=dict(params or {}), json=body)
        except (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.PoolTimeout,
            httpx.UnsupportedProtocol,
        ) as exc:
            raise _NotDelivered(str(exc) or type(exc).__name__) from exc
        except httpx.TransportError as exc:
            raise _NotAnswered(str(exc) or type(exc).__name__) from exc
        finally:
            self._last_activity = time.monotonic()
        socket = _local_socket(response)
        if response.status_code != 200:
            raise ProtocolError(f"{path} answered HTTP {response.status_code}")
        answer = parse_envelope(response.content) if raw_answer else parse_json(response.content)
        if not isinstance(answer, dict) or "retcode" not in answer:
            raise ProtocolError(f"{path} answered without a retcode")
        try:
            retcode, text = parse_retcode(answer["retcode"])
        except ValueError as exc:
            raise ProtocolError(f"{path} answered an unreadable retcode {answer['retcode']!r}") from exc
        return _Exchange(answer=answer, retcode=retcode, text=text, socket=socket)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            settings = self._settings
            self._http = httpx.AsyncClient(
                base_url=settings.base_url,
                verify=settings.verify,
                timeout=httpx.Timeout(settings.request_timeout, connect=settings.connect_timeout),
                limits=httpx.Limits(
                    max_connections=1, max_keepalive_connections=1, keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS
                ),
                headers={"Connection": "keep-alive"},
                trust_env=False,
            )
        return self._http

    def _lose_session(self) -> None:
        self._authenticated = False
        self._session_socket = None

    def _ensure_pinger(self) -> None:
        if self._pinger is None or self._pinger.done():
            self._pinger = asyncio.create_task(self._ping_when_idle(), name="mt5-ping")

    async def _ping_when_idle(self) -> None:
        interval = self._settings.ping_interval
        while True:
            idle = time.monotonic() - self._last_activity
            if idle < interval:
                await asyncio.sleep(interval - idle)
                continue
            try:
                async with self._lock:
                    if time.monotonic() - self._last_activity >= interval:
                        await self._call_locked(PING_PATH, None, None, changes_state=False)
            except MtBridgeError as exc:
                logger.warning("MT5 ping to %s failed: %s", self._settings.base_url, exc)
                await asyncio.sleep(interval)


class _NotDelivered(Exception):
    """The request never reached the server (no connection could be made)."""


class _NotAnswered(Exception):
    """The request may have reached the server, but no answer came back."""


def _local_socket(response: httpx.Response) -> object | None:
    """The local address of the TCP connection that carried ``response``, if the transport says."""
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    try:
        address: object | None = stream.get_extra_info("client_addr")
    except (AttributeError, OSError):
        return None
    return address
