"""How to reach one MT5 server through its Web API."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import timedelta

from mt_bridge.symbols import NO_ALIASES, SymbolAliases

MIN_PROTOCOL_VERSION = 484


@dataclass(frozen=True)
class Mt5ServerSettings:
    """One MT5 access server and the manager account the bridge signs in with."""

    base_url: str
    """``https://host:port`` of the access server (``http://`` only for the emulator's plain mode)."""
    manager_login: int
    """The manager account's login."""
    manager_password: str = field(repr=False)
    """The manager account's password; only its hash ever leaves this process."""
    agent: str = "BrokerDesk"
    """The agent name the server logs; non-empty, no spaces."""
    version: int = MIN_PROTOCOL_VERSION
    """The Web API protocol version we speak; servers refuse below 484."""
    server_offset: timedelta = timedelta(0)
    """How far the server's clock (deal times, ``from``/``to``) runs ahead of UTC."""
    symbol_aliases: SymbolAliases = NO_ALIASES
    """How this server's symbol names map to canonical ones."""
    verify: ssl.SSLContext | bool = True
    """TLS verification: True for the system store, a context for a pinned certificate."""
    ping_interval: float = 20.0
    """Seconds of silence after which the connection is pinged; servers drop it after 180 s."""
    request_timeout: float = 30.0
    """Seconds to wait for one answer before the outcome is declared unknown."""
    connect_timeout: float = 5.0
    """Seconds to wait for the TCP and TLS connection."""
