"""The statistics page's chart data: plain JSON in a ``<script type="application/json">`` tag that
``/static/ib/statistics.js`` reads, so the strict CSP (no inline script) holds.

Amounts go out as integers of minor units with their currency's scale; the chart divides them for
display only. One series per currency, so amounts in different currencies are never added up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from core.money import MoneyFormat
from ib.commission_queries import Statistics, Total

MAX_PERIODS = 3660
"""Ten years of days: a window wider than that is drawn up to its first ten years."""


def period_labels(stats: Statistics) -> list[str]:
    """Every day (or month) of the statistics' window, so a quiet day shows as zero, not as a gap."""
    labels: list[str] = []
    moment = stats.start
    while moment < stats.end and len(labels) < MAX_PERIODS:
        label = f"{moment:%Y-%m-%d}" if stats.grain == "day" else f"{moment:%Y-%m}"
        if not labels or labels[-1] != label:
            labels.append(label)
        moment += timedelta(days=1)
    return labels


def _series(
    totals: Sequence[Total], money: MoneyFormat, labels: Sequence[str] | None = None
) -> dict[str, Any]:
    if labels is None:
        labels = sorted({total.key for total in totals}, key=lambda key: (len(key), key))
    currencies = sorted({total.currency for total in totals})
    amounts = {(total.key, total.currency): total.amount for total in totals}
    return {
        "labels": list(labels),
        "datasets": [
            {
                "currency": currency,
                "scale": money.scales.get(currency, 2),
                "minor": [amounts.get((label, currency), 0) for label in labels],
            }
            for currency in currencies
        ],
    }


def statistics_chart_data(stats: Statistics, money: MoneyFormat) -> dict[str, Any]:
    return {
        "period": _series(stats.by_period, money, period_labels(stats)),
        "symbol": _series(stats.by_symbol, money),
        "level": _series(stats.by_level, money),
    }
