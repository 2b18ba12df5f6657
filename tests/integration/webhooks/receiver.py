"""A webhook receiver on loopback, written the way an integrator would: a real HTTP server that
checks each request's signature with the endpoint's secret and dedupes on the event id.

``fail_first`` answers 500 to the first delivery of each event (before processing it), so a test
sees the retry; ``always_fail`` answers 500 every time. ``processed`` holds each event the receiver
acted on, once, however many times it was delivered.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass
class Hit:
    event_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    signature_ok: bool
    answered: int


@dataclass
class Receiver:
    url: str = ""
    secret: str = ""
    fail_first: bool = True
    always_fail: bool = False
    hits: list[Hit] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    failed_once: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], raw: bytes) -> int:
        event_id = headers.get(EVENT_ID_HEADER.lower(), "")
        ok = verify(
            self.secret,
            headers.get(TIMESTAMP_HEADER.lower(), ""),
            headers.get(SIGNATURE_HEADER.lower(), ""),
            raw,
            int(time.time()),
        )
        with self.lock:
            if not ok:
                status = 401
            elif self.always_fail or (self.fail_first and event_id not in self.failed_once):
                self.failed_once.add(event_id)
                status = 500
            else:
                if event_id not in self.processed:  # dedupe: a redelivery is acknowledged, not redone
                    self.processed.append(event_id)
                status = 200
            self.hits.append(Hit(event_id, json.loads(raw or b"{}"), headers, ok, status))
        return status


@contextmanager
def running_receiver(**options: Any) -> Iterator[Receiver]:
    receiver = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            status = receiver.handle({k.lower(): v for k, v in self.headers.items()}, raw)
            body = b"ok" if status == 200 else b"receiver says no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/brokerdesk"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
