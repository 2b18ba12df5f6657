"""The rules' thresholds: a typed dataclass with sane defaults, overridable in ``risk_config``.

The limits screen of the settings helper may edit them later through :func:`save_config`; until
then the defaults apply unless a row says otherwise. Every field is an integer, so the stored
JSON is checked field by field and a bad value is refused with the field's name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from risk.errors import InvalidRiskConfigError
from risk.models import RiskConfigRow

CONFIG_KEY = "thresholds"


@dataclass(frozen=True)
class RiskConfig:
    """Thresholds of the scheduled risk rules (all integers)."""

    aml_window_hours: int = 72
    """AML: a withdrawal within this many hours after a credited deposit is looked at."""
    aml_min_lots_centi: int = 100
    """AML: fewer lots than this (in hundredths of a lot: 100 is 1.00 lot) opened between the
    deposit and the withdrawal raise an alert."""
    aml_min_withdrawal_usd_minor: int = 10_000
    """AML: withdrawals below this (USD cents, converted at the latest rate) are ignored."""
    shared_ip_min_clients: int = 3
    """Shared IP: this many distinct clients signing in from one IP raise an alert."""
    shared_device_min_clients: int = 2
    """Shared device: this many distinct clients signing in on one device (cookie) raise an alert."""
    shared_lookback_days: int = 30
    """Shared IP and device: sign-ins this many days back count towards the cluster."""
    min_hold_seconds: int = 120
    """Rebate gaming: positions closed sooner than this after opening count as short."""
    short_trades_per_day: int = 3
    """Rebate gaming: this many short trades by an IB-attributed client in one UTC day raise an alert."""
    large_deposit_usd_minor: int = 1_000_000
    """Large deposit: a credited deposit of at least this (USD cents) raises an alert."""
    large_withdrawal_usd_minor: int = 1_000_000
    """Large withdrawal: a withdrawal request of at least this (USD cents) raises an alert."""
    first_run_lookback_hours: int = 24
    """How far back a rule looks the first time it runs (it has no watermark yet)."""
    overlap_minutes: int = 10
    """Each run re-reads this much before its watermark, for rows committed late; alerts never repeat."""
    settle_minutes: int = 5
    """Rows younger than this wait for the next run, so that trades and sign-ins still on their way
    (the bridge syncs every few seconds) are seen before a withdrawal is judged."""


DEFAULTS = RiskConfig()
FIELD_NAMES = tuple(item.name for item in fields(RiskConfig))


def parse_config(values: dict[str, Any], base: RiskConfig = DEFAULTS) -> RiskConfig:
    """``base`` with ``values`` applied; a value that is not a non-negative integer is refused."""
    changes: dict[str, int] = {}
    for name, raw in values.items():
        if name not in FIELD_NAMES:
            raise InvalidRiskConfigError(name, "is not a known threshold")
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise InvalidRiskConfigError(name, "must be a whole number") from None
        if value < 0 or value > 10**15:
            raise InvalidRiskConfigError(name, "must be between 0 and 10^15")
        changes[name] = value
    for name in ("shared_ip_min_clients", "shared_device_min_clients"):
        if changes.get(name, getattr(base, name)) < 2:
            raise InvalidRiskConfigError(name, "must be at least 2")
    return replace(base, **changes)


async def load_config(session: AsyncSession) -> RiskConfig:
    row = await session.get(RiskConfigRow, CONFIG_KEY)
    if row is None:
        return DEFAULTS
    known = {name: value for name, value in row.value.items() if name in FIELD_NAMES}
    return parse_config(known)


async def save_config(
    session: AsyncSession, values: dict[str, Any], staff_id: int
) -> tuple[RiskConfig, RiskConfig]:
    """Store changed thresholds; returns (before, after) for the caller's audit event."""
    before = await load_config(session)
    after = parse_config(values, before)
    row = await session.get(RiskConfigRow, CONFIG_KEY)
    stored = {name: value for name, value in asdict(after).items() if value != getattr(DEFAULTS, name)}
    if row is None:
        session.add(
            RiskConfigRow(key=CONFIG_KEY, value=stored, updated_by=staff_id, updated_at=clock.utcnow())
        )
    else:
        row.value = stored
        row.updated_by = staff_id
        row.updated_at = clock.utcnow()
    await session.flush()
    return before, after
