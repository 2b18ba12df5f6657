"""A watch on every log record of the test session: no password, TOTP secret, session id, API key
or manager password may reach a log line.

``tests/conftest.py`` installs :data:`WATCH` on the root logger for the whole session and checks,
after each test, the lines that test logged (its fixtures' teardown included) against every secret
known by then: the fixed test secrets below, the TOTP secrets of the test database's users, the
cookies of the test's browsers (session ids, CSRF tokens) and whatever a test passes to
:func:`remember`. Lines are formatted by the production JSON formatter, so the extra fields of a
record and its traceback are read too.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from core.logging import JsonFormatter

FIXED_SECRETS = {
    "Violet-Harbour-73!": "the test users' password (tests.helpers.STRONG_PASSWORD)",
    "test-secret-key": "the test settings' secret key",
    "test-psp-secret": "the PSP sandbox's webhook secret",
    "sandbox-test-secret": "the KYC sandbox's webhook secret",
    "Manager1!": "the emulator's manager password",
    "Sealed-Manager-9!": "a manager password typed into the server form",
    "Second-Manager-8!": "a manager password typed into the server form",
    "Main1pass!": "a trading account's main password",
    "Inv1pass!": "a trading account's investor password",
    "scrape-me-please": "the metrics bearer token",
    "Wrong-Password-99": "a mistyped password (still a password)",
    "Wrong1pass!": "a mistyped manager password (still a password)",
}
OTPAUTH = re.compile(r"otpauth://\S+", re.I)
"""A TOTP provisioning URI carries the secret, whoever it belongs to."""
SHORTEST = 8
"""Shorter values (an empty cookie, ``null``) are no secret worth matching."""


class LogWatch(logging.Handler):
    """Keeps every formatted record of the session, thread-safe (servers log from their threads)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.set_name("brokerdesk-test-log-watch")
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []
        self.secrets: dict[str, str] = dict(FIXED_SECRETS)
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record that can't be formatted is still read as its raw parts
            line = f"{record.msg!r} {record.args!r}"
        with self._guard:
            self.lines.append(line)

    def mark(self) -> int:
        with self._guard:
            return len(self.lines)

    def forget(self, since: int) -> None:
        """Drop the lines logged since ``since`` (for the watch's own test, which logs secrets)."""
        with self._guard:
            del self.lines[since:]

    def remember(self, values: Iterable[str | None], what: str) -> None:
        with self._guard:
            for value in values:
                if value and len(value) >= SHORTEST:
                    self.secrets.setdefault(value, what)

    def leaks(self, since: int = 0) -> list[str]:
        """Each line logged since ``since`` that shows a known secret, with what the secret is."""
        with self._guard:
            lines = self.lines[since:]
            secrets = dict(self.secrets)
        found = []
        for line in lines:
            for secret, what in secrets.items():
                if secret in line:
                    found.append(f"{what} in: {line[:300]}")
            if OTPAUTH.search(line):
                found.append(f"a TOTP provisioning URI in: {line[:300]}")
        return found


WATCH = LogWatch()


def remember(*values: str | None, what: str = "a secret the test named") -> None:
    """Add secrets that must never be logged (a generated API key, say)."""
    WATCH.remember(values, what)


def remember_cookies(client: Any) -> None:
    """A test browser's cookies: the session id and the CSRF token."""
    cookies = getattr(client, "cookies", None)
    if cookies is None:
        return
    WATCH.remember([cookie.value for cookie in cookies.jar], "a session or CSRF cookie")


def install() -> None:
    root = logging.getLogger()
    if WATCH not in root.handlers:
        root.addHandler(WATCH)
