"""The client list's filters on the figures: churn risk, value tier, net deposits, inactive days.

The crm client list and saved segments keep these values in their query string and ask for the
SQL here. A client matches only once the job has computed its figures, and then on the figures
as of that run, except ``inactive``, which counts days up to now from the stored last activity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select

from analytics.errors import InvalidMetricFilterError
from analytics.models import ClientMetrics
from analytics.settings import ALL_TIERS, MAX_INACTIVE_DAYS, REPORT_CURRENCY, REPORT_SCALE
from core.money import InvalidAmountError, parse_amount

FIELDS = ("churn", "tier", "net_min", "net_max", "inactive")


@dataclass(frozen=True)
class MetricFilter:
    churn: str = ""
    """``yes``: flagged as a churn risk; ``no``: not flagged."""
    tier: str = ""
    net_min: str = ""
    """Net deposits at least this, in major units of the report currency (``-250.5`` allowed)."""
    net_max: str = ""
    inactive: int | None = None
    """No trade, sign-in or registration in at least this many days."""

    @property
    def active(self) -> bool:
        return bool(self.churn or self.tier or self.net_min or self.net_max or self.inactive is not None)


def _minor(text: str) -> int:
    negative = text.startswith("-")
    minor = parse_amount(text[1:] if negative else text, REPORT_SCALE, allow_zero=True)
    return -minor if negative else minor


def _amount(name: str, raw: str, label: str) -> str:
    """The bound as normalised text (``1000.5`` -> ``1000.50``), so the query string round-trips."""
    if not raw:
        return ""
    try:
        minor = _minor(raw.replace(",", ""))
    except InvalidAmountError as exc:
        raise InvalidMetricFilterError(name, f"{label}: {exc}") from None
    return f"{Decimal(minor).scaleb(-REPORT_SCALE):.{REPORT_SCALE}f}"


def parse_metric_filter(raw: Mapping[str, str]) -> MetricFilter:
    """The figures' filters from (already trimmed) query values.

    Raises :class:`InvalidMetricFilterError` naming the bad one."""
    churn = (raw.get("churn") or "").lower()
    if churn not in {"", "yes", "no"}:
        raise InvalidMetricFilterError("churn", "churn risk is yes or no")
    tier = (raw.get("tier") or "").lower()
    if tier and tier not in ALL_TIERS:
        raise InvalidMetricFilterError("tier", f"unknown value tier {tier!r}: choose {', '.join(ALL_TIERS)}")
    net_min = _amount("net_min", raw.get("net_min") or "", f"minimum net deposits ({REPORT_CURRENCY})")
    net_max = _amount("net_max", raw.get("net_max") or "", f"maximum net deposits ({REPORT_CURRENCY})")
    if net_min and net_max and Decimal(net_min) > Decimal(net_max):
        raise InvalidMetricFilterError("net_max", "maximum net deposits is below the minimum")
    inactive_raw = raw.get("inactive") or ""
    inactive = None
    if inactive_raw:
        if not inactive_raw.isdigit() or len(inactive_raw) > 5 or int(inactive_raw) > MAX_INACTIVE_DAYS:
            raise InvalidMetricFilterError(
                "inactive", f"inactive days is a whole number up to {MAX_INACTIVE_DAYS}"
            )
        inactive = int(inactive_raw)
    return MetricFilter(churn=churn, tier=tier, net_min=net_min, net_max=net_max, inactive=inactive)


def metric_condition(client_id: Any, filters: MetricFilter, now: datetime) -> ColumnElement[bool] | None:
    """``client_id IN (clients whose figures match)``, or ``None`` when no figure filter is set."""
    if not filters.active:
        return None
    m = ClientMetrics
    where: list[ColumnElement[bool]] = []
    if filters.churn:
        where.append(m.churn_risk.is_(filters.churn == "yes"))
    if filters.tier:
        where.append(m.value_tier == filters.tier)
    if filters.net_min:
        where.append(m.net_deposits >= _minor(filters.net_min))
    if filters.net_max:
        where.append(m.net_deposits <= _minor(filters.net_max))
    if filters.inactive is not None:
        where.append(m.last_activity_at <= now - timedelta(days=filters.inactive))
    result: ColumnElement[bool] = client_id.in_(select(m.client_id).where(*where))
    return result
