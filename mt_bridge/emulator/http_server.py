"""The emulator's HTTP(S) server: asyncio streams and h11, one session per TCP connection.

A plain socket server (rather than an ASGI one) is used because the protocol's state lives on
the connection itself: we must know which connection a request came on, close idle ones, and
drop a connection mid-answer when a fault says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import h11

from mt_bridge.emulator.api import ApiReply, ApiRequest, Mt5Api
from mt_bridge.emulator.config import EmulatorConfig
from mt_bridge.emulator.faults import Fault, FaultInjector, FaultKind
from mt_bridge.emulator.mt4_gateway import PREFIX as MT4_PREFIX
from mt_bridge.emulator.mt4_gateway import Mt4Gateway
from mt_bridge.emulator.session import Session
from mt_bridge.emulator.simulator import TradeSimulator
from mt_bridge.emulator.state import TradeServer
from mt_bridge.emulator.tls import SelfSignedCertificate, make_self_signed_certificate
from mt_bridge.emulator.wire import encode
from mt_bridge.errors import ProtocolError
from mt_bridge.mt5.numbers import parse_json
from mt_bridge.retcodes import Retcode, format_retcode

logger = logging.getLogger(__name__)

READ_CHUNK = 65536
MAX_BODY_BYTES = 1_048_576


@dataclass
class Emulator:
    """The emulated MT5 server: state, simulator, fault injector and the listening socket."""

    config: EmulatorConfig
    tls: bool = True
    run_simulator: bool = False
    server: TradeServer = field(init=False)
    simulator: TradeSimulator = field(init=False)
    faults: FaultInjector = field(init=False)
    certificate: SelfSignedCertificate | None = field(init=False, default=None)
    sessions: dict[str, Session] = field(init=False, default_factory=dict)
    connections_opened: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.server = TradeServer(self.config)
        self.simulator = TradeSimulator(self.server, self.config.simulator, self.config.seed + 2)
        self.faults = FaultInjector(self.config.faults, self.config.seed + 3)
        self.api = Mt5Api(self.server, self.faults, self.config)
        self.mt4_gateway = Mt4Gateway(self.server, self.faults, self.config)
        self._listener: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._simulator_task: asyncio.Task[None] | None = None
        self.host = ""
        self.port = 0

    @property
    def base_url(self) -> str:
        """Where clients reach the emulator."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (port 0 picks a free one) and start the simulator if asked."""
        context = None
        if self.tls:
            self.certificate = make_self_signed_certificate(host)
            context = self.certificate.server_context()
        self._listener = await asyncio.start_server(self._serve, host, port, ssl=context)
        bound = self._listener.sockets[0].getsockname()
        self.host, self.port = str(bound[0]), int(bound[1])
        if self.run_simulator and self.config.simulator.enabled:
            self._simulator_task = asyncio.create_task(self._simulate(), name="mt5-emulator-simulator")

    async def stop(self) -> None:
        """Stop listening, close every connection and stop the simulator."""
        if self._simulator_task is not None:
            self._simulator_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._simulator_task
        if self._listener is not None:
            self._listener.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        if self._listener is not None:
            await self._listener.wait_closed()
            self._listener = None

    def drop_all_connections(self) -> int:
        """Cut every open connection at once, as a network failure would; returns how many."""
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        return len(writers)

    async def serve_forever(self) -> None:
        """Block until cancelled."""
        if self._listener is None:
            raise RuntimeError("start() the emulator first")
        await self._listener.serve_forever()

    async def _simulate(self) -> None:
        while True:
            await asyncio.sleep(self.config.simulator.step_seconds)
            self.simulator.step()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_address = writer.get_extra_info("peername")
        peer = f"{peer_address[0]}:{peer_address[1]}" if peer_address else "unknown"
        session = Session(peer=peer)
        self.sessions[peer] = session
        self.connections_opened += 1
        self._writers.add(writer)
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        connection = h11.Connection(h11.SERVER)
        try:
            await self._converse(reader, writer, connection, session)
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError, OSError) as exc:
            logger.debug("emulator connection %s ended: %s", peer, exc)
        except asyncio.CancelledError:
            logger.debug("emulator connection %s cancelled", peer)
        finally:
            self._writers.discard(writer)
            self.sessions.pop(peer, None)
            if handler is not None:
                self._handlers.discard(handler)
            writer.transport.abort()

    async def _converse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection: h11.Connection,
        session: Session,
    ) -> None:
        while True:
            request = await self._read_request(reader, connection)
            if request is None:
                return
            method, target, body, authorization = request
            if urlsplit(target).path.startswith(MT4_PREFIX):
                reply = self._dispatch_mt4(method, target, body, authorization)
            else:
                reply = self._dispatch(session, method, target, body)
            fault = reply.fault
            if fault is not None and fault.kind in (FaultKind.DROP_AFTER_APPLY, FaultKind.DROP_BEFORE_APPLY):
                writer.transport.abort()
                return
            if fault is not None and fault.kind == FaultKind.DELAY:
                await asyncio.sleep(fault.delay_seconds)
            payload = json.dumps(reply.payload, default=str).encode() if reply.raw else encode(reply.payload)
            headers = [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(payload))),
                ("Connection", "keep-alive"),
            ]
            writer.write(connection.send(h11.Response(status_code=reply.status, headers=headers)))
            writer.write(connection.send(h11.Data(data=payload)))
            writer.write(connection.send(h11.EndOfMessage()))
            await writer.drain()
            if connection.our_state is h11.MUST_CLOSE:
                return
            connection.start_next_cycle()

    async def _read_request(
        self, reader: asyncio.StreamReader, connection: h11.Connection
    ) -> tuple[str, str, bytes, str] | None:
        """The next request on the connection, or None when it closed or stayed idle too long."""
        method = target = authorization = ""
        body = bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await asyncio.wait_for(reader.read(READ_CHUNK), self.config.idle_timeout_seconds)
                except TimeoutError:
                    return None
                connection.receive_data(data)
                if not data and connection.their_state is h11.IDLE:
                    return None
                continue
            if isinstance(event, h11.Request):
                method = event.method.decode("ascii")
                target = event.target.decode("ascii")
                authorization = next(
                    (value.decode("latin-1") for name, value in event.headers if name == b"authorization"), ""
                )
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY_BYTES:
                    return None
            elif isinstance(event, h11.EndOfMessage):
                return method, target, bytes(body), authorization
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None

    def _dispatch(self, session: Session, method: str, target: str, body: bytes) -> ApiReply:
        parts = urlsplit(target)
        query = {key.lower(): value for key, value in parse_qsl(parts.query, keep_blank_values=True)}
        parsed: Any = None
        if body.strip():
            try:
                parsed = parse_json(body)
            except ProtocolError:
                return ApiReply({"retcode": format_retcode(Retcode.ERR_PARAMS)})
        if method not in {"GET", "POST"}:
            return ApiReply({"retcode": format_retcode(Retcode.ERR_PARAMS)}, status=405)
        try:
            return self._handle(session, parts.path, query, parsed)
        except Exception:
            # A bug in the emulator must not look like a network fault to the client under test.
            logger.exception("emulator failed on %s %s", method, parts.path)
            return ApiReply({"retcode": format_retcode(Retcode.ERR_COMMON)}, status=500)

    def _dispatch_mt4(self, method: str, target: str, body: bytes, authorization: str) -> ApiReply:
        """An MT4 gateway request: plain JSON numbers, HTTP status codes, Basic auth per request."""
        parts = urlsplit(target)
        query = {key.lower(): value for key, value in parse_qsl(parts.query, keep_blank_values=True)}
        try:
            parsed = parse_json(body) if body.strip() else None
        except ProtocolError:
            return ApiReply({"error": {"code": Retcode.ERR_PARAMS, "message": "invalid JSON"}}, status=400)
        try:
            answer = self.mt4_gateway.handle(method, parts.path, query, parsed, authorization)
        except Exception:
            logger.exception("emulator MT4 gateway failed on %s %s", method, parts.path)
            return ApiReply({"error": {"code": Retcode.ERR_COMMON, "message": "internal"}}, status=500)
        fault = (
            Fault(answer.fault_kind, delay_seconds=self.config.faults.delay_seconds)
            if answer.fault_kind
            else None
        )
        return ApiReply(answer.payload, status=answer.status, fault=fault, raw=True)

    def _handle(self, session: Session, path: str, query: dict[str, str], parsed: Any) -> ApiReply:
        return self.api.handle(session, ApiRequest(path=path.rstrip("/") or "/", query=query, body=parsed))
