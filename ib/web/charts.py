"""The statistics page's chart data: plain JSON in a ``<script type="application/json">`` tag that
``/static/ib/statistics.js`` reads, so the strict CSP (no inline script) holds.

Amounts go out as integers of minor units with their currency's scale; the chart divides them for
display only. One series per currency, so amounts in different currencies are never added up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.money import MoneyFormat
from ib.commission_queries import Statistics, Total


def _series(totals: Sequence[Total], money: MoneyFormat) -> dict[str, Any]:
    labels = sorted({total.key for total in totals}, key=lambda key: (len(key), key))
    currencies = sorted({total.currency for total in totals})
    amounts = {(total.key, total.currency): total.amount for total in totals}
    return {
        "labels": labels,
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
        "period": _series(stats.by_period, money),
        "symbol": _series(stats.by_symbol, money),
        "level": _series(stats.by_level, money),
    }
