"""Per-connection session state and the server's half of the MD5 challenge.

The Web API keeps a session per keep-alive TCP connection: a new connection starts
unauthenticated, and ``/api/auth/answer`` must follow ``/api/auth/start`` on the same
connection within the auth window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mt_bridge.emulator.state import Refusal
from mt_bridge.mt5.auth import answers_match, challenge_answer, new_rand, password_hash
from mt_bridge.mt5.settings import MIN_PROTOCOL_VERSION
from mt_bridge.retcodes import Retcode

VERSION_ACCESS = "1290"
VERSION_TRADE = "1290"
RAND_HEX_LENGTH = 32


@dataclass
class Session:
    """What the server knows about one TCP connection."""

    peer: str
    manager: int | None = None
    authenticated: bool = False
    _srv_rand: str | None = None
    _started_at: float = 0.0
    _claimed_login: int | None = None
    requests: int = field(default=0)

    def start(self, params: dict[str, str]) -> str:
        """Step one: check the parameters and hand out a fresh ``srv_rand``."""
        try:
            version = int(params.get("version", ""))
            login = int(params.get("login", ""))
        except ValueError as exc:
            raise Refusal(Retcode.ERR_PARAMS, "version and login must be numbers") from exc
        agent = params.get("agent", "")
        if version < MIN_PROTOCOL_VERSION:
            raise Refusal(Retcode.ERR_PARAMS, f"version must be at least {MIN_PROTOCOL_VERSION}")
        if not agent or " " in agent:
            raise Refusal(Retcode.ERR_PARAMS, "agent must be non-empty without spaces")
        if params.get("type", "").lower() != "manager":
            raise Refusal(Retcode.ERR_PARAMS, "type must be manager")
        self.authenticated = False
        self.manager = None
        self._claimed_login = login
        self._srv_rand = new_rand()
        self._started_at = time.monotonic()
        return self._srv_rand

    def answer(self, params: dict[str, str], managers: dict[int, str], window_seconds: float) -> str:
        """Step two: check ``srv_rand_answer`` in time; return our ``cli_rand_answer``."""
        srv_rand, login = self._srv_rand, self._claimed_login
        self._srv_rand = None
        if srv_rand is None or login is None:
            raise Refusal(Retcode.ERR_PARAMS, "auth/answer without auth/start on this connection")
        if time.monotonic() - self._started_at > window_seconds:
            raise Refusal(Retcode.ERR_TIMEOUT, "auth/answer came after the auth window")
        cli_rand = params.get("cli_rand", "")
        if len(cli_rand) != RAND_HEX_LENGTH or not _is_hex(cli_rand):
            raise Refusal(Retcode.ERR_PARAMS, "cli_rand must be 16 bytes as hex")
        password = managers.get(login)
        if password is None:
            raise Refusal(Retcode.USR_INVALID_PASSWORD, "invalid account password")
        hashed = password_hash(password)
        if not answers_match(challenge_answer(hashed, srv_rand), params.get("srv_rand_answer", "")):
            raise Refusal(Retcode.USR_INVALID_PASSWORD, "invalid account password")
        self.authenticated = True
        self.manager = login
        return challenge_answer(hashed, cli_rand)

    def end(self) -> None:
        """``/api/quit``: forget the session, keep the connection."""
        self.authenticated = False
        self.manager = None
        self._srv_rand = None


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True
