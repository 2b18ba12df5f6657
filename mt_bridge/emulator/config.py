"""The emulator's configuration: managers, groups, symbols, simulator, faults, timing.

Loaded from TOML; ``default.toml`` beside this module is the documented default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.errors import SettingsError
from mt_bridge.retcodes import Retcode

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default.toml")

STATE_CHANGING_ENDPOINTS = (
    "/api/user/add",
    "/api/user/update",
    "/api/user/delete",
    "/api/user/change_password",
    "/api/trade/balance",
    "/api/deal/update",
    "/api/deal/delete",
)


@dataclass(frozen=True)
class GroupConfig:
    """A group: its deposit currency, the leverage it allows and how it books positions."""

    name: str
    currency: str
    currency_digits: int = 2
    leverage_min: int = 1
    leverage_max: int = 500
    netting: bool = False
    commission_per_lot: Decimal = Decimal(0)


@dataclass(frozen=True)
class SymbolConfig:
    """A tradable symbol and how its price moves."""

    name: str
    digits: int
    contract_size: Decimal
    base_price: Decimal
    profit_currency: str = "USD"
    spread_points: int = 10
    volatility: Decimal = Decimal("0.0004")
    swap_long: Decimal = Decimal(0)
    swap_short: Decimal = Decimal(0)


@dataclass(frozen=True)
class SimulatorConfig:
    """How the background trade simulator behaves."""

    enabled: bool = True
    step_seconds: float = 1.0
    trade_probability: Decimal = Decimal("0.3")
    volumes: tuple[Decimal, ...] = (Decimal("0.01"), Decimal("0.10"), Decimal("1.00"))


@dataclass(frozen=True)
class FaultConfig:
    """Faults applied at random, at the configured rates, to state-changing requests."""

    delay_seconds: float = 0.0
    drop_after_apply_rate: float = 0.0
    error_rate: float = 0.0
    error_retcode: int = Retcode.ERR_CONNECTION
    endpoints: tuple[str, ...] = ()

    def covers(self, path: str) -> bool:
        """True when random faults may hit ``path``."""
        return path in (self.endpoints or STATE_CHANGING_ENDPOINTS)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator needs; build it with :func:`load_config` or directly in tests."""

    managers: dict[int, str] = field(default_factory=lambda: {1000: "Manager1!"})
    groups: tuple[GroupConfig, ...] = ()
    symbols: tuple[SymbolConfig, ...] = ()
    seed: int = 1
    time_offset_minutes: int = 0
    auth_window_seconds: float = 10.0
    idle_timeout_seconds: float = 180.0
    first_login: int = 100000
    money_limit: Decimal = Decimal(1_000_000_000)
    simulator: SimulatorConfig = SimulatorConfig()
    faults: FaultConfig = FaultConfig()

    def with_changes(self, **changes: Any) -> EmulatorConfig:
        """A copy with some fields replaced (tests shorten timeouts this way)."""
        return replace(self, **changes)


def load_config(path: Path | None = None) -> EmulatorConfig:
    """Read a TOML configuration; without a path, the documented default."""
    source = path or DEFAULT_CONFIG_PATH
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"emulator configuration {source} can't be read: {exc}") from exc
    try:
        return config_from_mapping(data)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise SettingsError(f"emulator configuration {source} is invalid: {exc}") from exc


def config_from_mapping(data: dict[str, Any]) -> EmulatorConfig:
    """Build a configuration from parsed TOML; decimals are accepted as strings or numbers."""
    simulator = data.get("simulator", {})
    faults = data.get("faults", {})
    return EmulatorConfig(
        managers={int(login): str(password) for login, password in data.get("managers", {}).items()},
        groups=tuple(
            GroupConfig(
                name=g["name"],
                currency=g["currency"],
                currency_digits=int(g.get("currency_digits", 2)),
                leverage_min=int(g.get("leverage_min", 1)),
                leverage_max=int(g.get("leverage_max", 500)),
                netting=bool(g.get("netting", False)),
                commission_per_lot=Decimal(str(g.get("commission_per_lot", "0"))),
            )
            for g in data.get("groups", [])
        ),
        symbols=tuple(
            SymbolConfig(
                name=s["name"],
                digits=int(s["digits"]),
                contract_size=Decimal(str(s["contract_size"])),
                base_price=Decimal(str(s["base_price"])),
                profit_currency=s.get("profit_currency", "USD"),
                spread_points=int(s.get("spread_points", 10)),
                volatility=Decimal(str(s.get("volatility", "0.0004"))),
                swap_long=Decimal(str(s.get("swap_long", "0"))),
                swap_short=Decimal(str(s.get("swap_short", "0"))),
            )
            for s in data.get("symbols", [])
        ),
        seed=int(data.get("seed", 1)),
        time_offset_minutes=int(data.get("time_offset_minutes", 0)),
        auth_window_seconds=float(data.get("auth_window_seconds", 10)),
        idle_timeout_seconds=float(data.get("idle_timeout_seconds", 180)),
        first_login=int(data.get("first_login", 100000)),
        money_limit=Decimal(str(data.get("money_limit", 1_000_000_000))),
        simulator=SimulatorConfig(
            enabled=bool(simulator.get("enabled", True)),
            step_seconds=float(simulator.get("step_seconds", 1.0)),
            trade_probability=Decimal(str(simulator.get("trade_probability", "0.3"))),
            volumes=tuple(Decimal(str(v)) for v in simulator.get("volumes", ["0.01", "0.10", "1.00"])),
        ),
        faults=FaultConfig(
            delay_seconds=float(faults.get("delay_seconds", 0.0)),
            drop_after_apply_rate=float(faults.get("drop_after_apply_rate", 0.0)),
            error_rate=float(faults.get("error_rate", 0.0)),
            error_retcode=int(faults.get("error_retcode", Retcode.ERR_CONNECTION)),
            endpoints=tuple(faults.get("endpoints", [])),
        ),
    )
