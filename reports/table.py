"""What a report is made of: tables of typed columns, each table optionally drawn as a chart.

A report's queries fill plain rows (dicts keyed by column). How a cell reads is decided here once,
for the page and for the CSV alike, so the CSV holds exactly the table's figures:

* ``money`` cells are integers of minor units in the row's ``currency``; shown in major units with
  that currency's scale (the page groups thousands and names the currency, the CSV does neither);
* ``lots`` are exact decimals; ``hours`` and ``percent`` are decimals rounded once, in the query;
* ``label`` cells are fixed English words the page translates (funnel stages, age buckets).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.money import format_amount
from reports.window import Window

Row = dict[str, Any]


class Kind(StrEnum):
    TEXT = "text"
    LABEL = "label"
    COUNT = "count"
    MONEY = "money"
    LOTS = "lots"
    HOURS = "hours"
    PERCENT = "percent"
    MOMENT = "moment"


NUMERIC_KINDS = frozenset({Kind.COUNT, Kind.MONEY, Kind.LOTS, Kind.HOURS, Kind.PERCENT})


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: Kind = Kind.TEXT

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


@dataclass(frozen=True)
class Chart:
    """One dataset per value column and per series (currency, say): amounts of different
    currencies are never drawn as one line."""

    kind: str
    label_key: str
    value_keys: tuple[str, ...]
    series_key: str | None = None


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: tuple[Column, ...]
    rows: list[Row]
    chart: Chart | None = None
    note: str = ""

    def column(self, key: str) -> Column:
        return next(column for column in self.columns if column.key == key)


@dataclass(frozen=True)
class Report:
    key: str
    title: str
    description: str
    window: Window
    tables: list[Table] = field(default_factory=list)

    def table(self, key: str) -> Table | None:
        return next((table for table in self.tables if table.key == key), None)

    @property
    def currencies(self) -> set[str]:
        return {str(row["currency"]) for table in self.tables for row in table.rows if row.get("currency")}


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def cell_text(column: Column, row: Mapping[str, Any], scales: Mapping[str, int], *, grouped: bool) -> str:
    """A cell as the page (``grouped``: thousands separated, currency named) or the CSV reads it."""
    value = row.get(column.key)
    if column.kind == Kind.MONEY and isinstance(value, int):
        currency = str(row.get("currency", ""))
        text = format_amount(value, scales.get(currency, 2))
        return f"{text} {currency}".strip() if grouped else text.replace(",", "")
    if column.kind == Kind.COUNT and isinstance(value, int) and grouped:
        return f"{value:,}"
    if column.kind == Kind.LOTS and isinstance(value, Decimal) and grouped:
        return f"{value:,f}"
    return _plain(value)


def csv_rows(table: Table, scales: Mapping[str, int]) -> tuple[list[str], list[list[str]]]:
    """The CSV's header (column keys) and rows, the same cells as the page without grouping."""
    header = [column.key for column in table.columns]
    rows = [[cell_text(column, row, scales, grouped=False) for column in table.columns] for row in table.rows]
    return header, rows


NUMBER = re.compile(r"-?\d+(\.\d+)?")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """A cell a spreadsheet won't run: text starting like a formula gets a leading quote; a plain
    number (a negative net funding, say) stays a number."""
    if NUMBER.fullmatch(text):
        return text
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(table: Table, scales: Mapping[str, int]) -> str:
    header, rows = csv_rows(table, scales)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def chart_data(
    table: Table, scales: Mapping[str, int], translate: Callable[[str], str] = str
) -> dict[str, Any] | None:
    """Labels and datasets for the page's chart script: values as exact decimal text in major units
    (the script turns them into numbers for drawing only); ``translate`` gives column titles and
    ``label`` cells in the reader's language."""
    chart = table.chart
    if chart is None:
        return None
    label_column = table.column(chart.label_key)
    labels: list[str] = []
    for row in table.rows:
        label = _plain(row.get(chart.label_key))
        if label not in labels:
            labels.append(label)
    series = sorted({_plain(row.get(chart.series_key)) for row in table.rows}) if chart.series_key else [""]
    datasets = []
    for value_key in chart.value_keys:
        column = table.column(value_key)
        for name in series:
            values = {
                _plain(row.get(chart.label_key)): cell_text(column, row, scales, grouped=False)
                for row in table.rows
                if not chart.series_key or _plain(row.get(chart.series_key)) == name
            }
            datasets.append(
                {
                    "label": translate(column.label),
                    "series": name,
                    "values": [values.get(label, "0") or "0" for label in labels],
                }
            )
    if label_column.kind == Kind.LABEL:
        labels = [translate(label) for label in labels]
    return {"kind": chart.kind, "labels": labels, "datasets": datasets}


def fill_days(window: Window, rows: Sequence[Row], keys: Sequence[str], zero: Row) -> list[Row]:
    """Rows per day of the window (and per the other ``keys`` seen), zeros where nothing happened."""
    seen: dict[tuple[Any, ...], Row] = {tuple(row[k] for k in ("day", *keys)): row for row in rows}
    others = sorted({tuple(row[k] for k in keys) for row in rows})
    if not others and not keys:
        others = [()]
    out: list[Row] = []
    for day in window.days:
        for other in others:
            row = seen.get((day, *other))
            out.append(
                row if row is not None else {"day": day, **dict(zip(keys, other, strict=True)), **zero}
            )
    return out
