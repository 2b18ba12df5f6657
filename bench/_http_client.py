"""A small HTTP/1.1 client on raw asyncio streams, for the HTTP load benchmark (bench/http_load.py).

Why not httpx: on a 2-core machine the load generator shares the CPU with the servers it measures,
and httpx spends several times more CPU per request than the server's bare handler does, so it
would measure itself. This client keeps one keep-alive connection per simulated user, writes each
request in one call and reads the answer by Content-Length or chunks; cookies are kept per signed-in
person (:class:`CookieJar`), not per connection, so one connection can carry many people in turn,
as a proxy's would. Loopback only: it refuses any other host.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
REPLY_TIMEOUT_SECONDS = 60.0
"""No answer in this time is an error, so a stuck server cannot keep the benchmark running."""
CSRF_FIELD = re.compile(rb'name="_csrf_token" value="([^"]+)"')


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    def csrf_token(self) -> str:
        match = CSRF_FIELD.search(self.body)
        if match is None:
            raise RuntimeError(f"the page ({self.status}) has no CSRF field")
        return match.group(1).decode()


@dataclass
class CookieJar:
    """One person's cookies: what ``Set-Cookie`` gave them, sent back on every request."""

    cookies: dict[str, str] = field(default_factory=dict)

    def header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def take(self, reply: Reply) -> None:
        for key, value in reply.headers:
            if key != "set-cookie":
                continue
            pair, _, attributes = value.partition(";")
            name, _, content = pair.strip().partition("=")
            expired = "max-age=0" in attributes.lower().replace(" ", "")
            if expired or not content:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = content


class Connection:
    """One keep-alive connection to ``base_url`` (reopened when the server closes it)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.hostname not in LOOPBACK or parts.scheme != "http":
            raise ValueError(f"the load benchmark talks to plain HTTP on loopback only, not {base_url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.authority = f"{self.host}:{self.port}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        jar: CookieJar | None = None,
        form: dict[str, str] | None = None,
        json_body: bytes | None = None,
    ) -> Reply:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.authority}", "Accept: text/html"]
        body = b""
        if form is not None:
            body = urlencode(form).encode()
            lines.append("Content-Type: application/x-www-form-urlencoded")
        elif json_body is not None:
            body = json_body
            lines.append("Content-Type: application/json")
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        if jar is not None and jar.cookies:
            lines.append(f"Cookie: {jar.header()}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        for attempt in (1, 2):
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            try:
                self._writer.write(raw)
                reply = await asyncio.wait_for(self._read(), REPLY_TIMEOUT_SECONDS)
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()  # the server closed an idle keep-alive connection: once more
                if attempt == 2:
                    raise
        if jar is not None:
            jar.take(reply)
        if (reply.header("connection") or "").lower() == "close":
            await self.close()
        return reply

    async def _read(self) -> Reply:
        assert self._reader is not None
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = []
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers.append((name.strip().lower(), value.strip()))
        found = dict(headers)
        if "content-length" in found:
            body = await self._reader.readexactly(int(found["content-length"]))
        elif found.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self._reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            body = b"".join(chunks)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body = await self._reader.read()
            await self.close()
        return Reply(status, headers, body)
