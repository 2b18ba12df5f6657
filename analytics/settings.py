"""What staff tune about the figures: when a client counts as a churn risk, and the value tiers.

Stored in :mod:`core.config_store` under the key ``analytics``; the recompute job reads them on
every run, so a change applies from the next run (saving the screen also queues one).

Amounts are in minor units of the report currency (:data:`REPORT_CURRENCY`), volumes in whole
lots. A client reaches a tier when its net deposits **or** its closed volume reach that tier's
threshold; the highest tier reached wins, and a client below every tier is ``standard``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.errors import InvalidAnalyticsSettingError
from core.config_store import read_value
from core.money import InvalidAmountError, format_amount, parse_amount

SETTINGS_KEY = "analytics"
REPORT_CURRENCY = "USD"
"""Every figure is converted to this currency (at the latest stored rate, mid) before it is added up."""
REPORT_SCALE = 2
STANDARD = "standard"
TIER_CODES = ("silver", "gold", "vip")
"""The tiers above ``standard``, lowest first."""
ALL_TIERS = (STANDARD, *TIER_CODES)
MAX_INACTIVE_DAYS = 3650
MAX_LOTS = 10**9


@dataclass(frozen=True)
class Tier:
    """A tier's thresholds: net deposits in report-currency minor units, closed volume in lots."""

    code: str
    min_net_deposits: int
    min_lots: int


@dataclass(frozen=True)
class AnalyticsSettings:
    inactive_days: int = 30
    """A funded client with no trade and no sign-in for this many days is a churn risk…"""
    churn_min_balance: int = 100_00
    """…when its balance (wallets and live trading accounts) is at least this, in minor units."""
    tiers: tuple[Tier, ...] = (
        Tier("silver", 1_000_00, 10),
        Tier("gold", 10_000_00, 100),
        Tier("vip", 100_000_00, 1_000),
    )

    def as_json(self) -> dict[str, int]:
        """Flat, so the settings history shows each threshold on its own line."""
        document = {"inactive_days": self.inactive_days, "churn_min_balance": self.churn_min_balance}
        for tier in self.tiers:
            document[f"{tier.code}_min_net_deposits"] = tier.min_net_deposits
            document[f"{tier.code}_min_lots"] = tier.min_lots
        return document

    def form_values(self) -> dict[str, str]:
        """The settings as the screen's fields show them (amounts in major units)."""
        values = {
            "inactive_days": str(self.inactive_days),
            "churn_min_balance": format_amount(self.churn_min_balance, REPORT_SCALE).replace(",", ""),
        }
        for tier in self.tiers:
            values[f"{tier.code}_net_deposits"] = format_amount(tier.min_net_deposits, REPORT_SCALE).replace(
                ",", ""
            )
            values[f"{tier.code}_lots"] = str(tier.min_lots)
        return values


FIELD_NAMES = (
    "inactive_days",
    "churn_min_balance",
    *(f"{code}_{part}" for code in TIER_CODES for part in ("net_deposits", "lots")),
)


def settings_from_json(value: Mapping[str, Any] | None) -> AnalyticsSettings:
    """The stored document over the defaults (a key it lacks keeps its default)."""
    defaults = AnalyticsSettings()
    stored = dict(value or {})
    tiers = tuple(
        Tier(
            tier.code,
            int(stored.get(f"{tier.code}_min_net_deposits", tier.min_net_deposits)),
            int(stored.get(f"{tier.code}_min_lots", tier.min_lots)),
        )
        for tier in defaults.tiers
    )
    return AnalyticsSettings(
        inactive_days=int(stored.get("inactive_days", defaults.inactive_days)),
        churn_min_balance=int(stored.get("churn_min_balance", defaults.churn_min_balance)),
        tiers=tiers,
    )


async def load_settings(session: AsyncSession) -> AnalyticsSettings:
    return settings_from_json(await read_value(session, SETTINGS_KEY))


def _whole(form: Mapping[str, str], name: str, label: str, *, low: int, high: int) -> int:
    raw = (form.get(name) or "").strip()
    if not raw.isdigit() or len(raw) > 10 or not low <= int(raw) <= high:
        raise InvalidAnalyticsSettingError(name, f"{label}: a whole number from {low} to {high}.")
    return int(raw)


def _amount(form: Mapping[str, str], name: str, label: str) -> int:
    try:
        return parse_amount(form.get(name) or "", REPORT_SCALE, allow_zero=True)
    except InvalidAmountError as exc:
        raise InvalidAnalyticsSettingError(name, f"{label}: {exc}") from None


def parse_settings(form: Mapping[str, str]) -> AnalyticsSettings:
    """The settings from the screen's form; :class:`InvalidAnalyticsSettingError` names the bad field.

    Each tier must ask at least as much as the tier below it, on both thresholds, so a client can
    never qualify for a higher tier while failing a lower one.
    """
    inactive = _whole(form, "inactive_days", "Inactive days", low=1, high=MAX_INACTIVE_DAYS)
    balance = _amount(form, "churn_min_balance", "Minimum balance")
    tiers: list[Tier] = []
    for code in TIER_CODES:
        net = _amount(form, f"{code}_net_deposits", f"{code}: net deposits")
        lots = _whole(form, f"{code}_lots", f"{code}: lots", low=1, high=MAX_LOTS)
        if net == 0:
            raise InvalidAnalyticsSettingError(
                f"{code}_net_deposits", f"{code}: net deposits must be more than zero."
            )
        if tiers and (net < tiers[-1].min_net_deposits or lots < tiers[-1].min_lots):
            field = f"{code}_net_deposits" if net < tiers[-1].min_net_deposits else f"{code}_lots"
            raise InvalidAnalyticsSettingError(
                field, f"{code}: a tier asks at least as much as the tier below it ({tiers[-1].code})."
            )
        tiers.append(Tier(code, net, lots))
    return AnalyticsSettings(inactive_days=inactive, churn_min_balance=balance, tiers=tuple(tiers))
