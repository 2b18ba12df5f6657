"""What an IB earned, read for its portal: its commission lines with their provenance, filtered and
paged, their CSV export, the dashboard's totals and the statistics by period, symbol and level.

An IB reads only lines where it is the beneficiary, and names one by deal and rule: a deal and rule
that earned it nothing are "not found", even where they earned another IB a line. Every
amount is the stored line's integer of minor units; nothing here computes a commission.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ib.errors import IbError
from ib.line_basis import Earned, downline_of, render
from ib.models import CommissionLine, LineBasis, Scheme, SchemeVersion, StoredDeal
from ib.query_common import AnySelect, Grain, Page, Window, day_start, month_start, page_bounds, period_key
from ib.rounding import units_to_lots
from ib.rules import OVERRIDING
from ib.snapshot import among
from ib.timeutil import aware

CSV_ROW_LIMIT = 100_000
"""An export past this many lines must be narrowed by its filters (the page says so)."""


class LineNotFoundError(IbError):
    """Raised when a deal and rule name no line of this IB."""


@dataclass(frozen=True)
class LineFilter:
    """Which of an IB's lines to show: deal time in ``[start, end)``, a level, a symbol, a client."""

    start: datetime | None = None
    end: datetime | None = None
    level: int | None = None
    symbol: str | None = None
    client_id: int | None = None


@dataclass(frozen=True)
class LineView:
    """One commission line and everything that explains it: the deal, the scheme version, the rule,
    the level and rank, the formula's inputs and its result. Its IB sees it as deal and rule
    (:attr:`deal_id`, :attr:`rule_id`): the line's key without the beneficiary, who is the IB."""

    deal_id: int
    rule_id: int
    deal_time: datetime
    server: str
    ticket: int
    login: int
    symbol: str
    lots: Decimal
    trader_client_id: int
    scheme: str
    scheme_version: int
    scheme_version_id: int
    rule_code: str
    kind: str
    level: int
    rank: str | None
    inputs: dict[str, Any]
    formula: str
    amount: int
    currency: str
    revision: int


@dataclass(frozen=True)
class Total:
    """A sum of line amounts in one currency under one key (a day, a month, a symbol, a level)."""

    key: str
    currency: str
    amount: int
    lines: int


@dataclass(frozen=True)
class Dashboard:
    today: list[Total]
    this_month: list[Total]
    month_by_level: list[Total]


@dataclass(frozen=True)
class Statistics:
    start: datetime
    end: datetime
    grain: str
    by_period: list[Total]
    by_symbol: list[Total]
    by_level: list[Total]


def _lines(partner_id: int, where: LineFilter) -> Select[CommissionLine, StoredDeal, int, str, LineBasis]:
    statement = (
        select(CommissionLine, StoredDeal, SchemeVersion.version, Scheme.name, LineBasis)
        .join(StoredDeal, StoredDeal.id == CommissionLine.deal_id)
        .join(SchemeVersion, SchemeVersion.id == CommissionLine.scheme_version_id)
        .join(Scheme, Scheme.id == SchemeVersion.scheme_id)
        .outerjoin(LineBasis, LineBasis.id == CommissionLine.basis_id)
        .where(CommissionLine.beneficiary_id == partner_id)
    )
    return _filtered(statement, where)


def _filtered(statement: AnySelect, where: LineFilter) -> AnySelect:
    statement = Window(where.start, where.end).apply(statement, CommissionLine.deal_time)
    if where.level is not None:
        statement = statement.where(CommissionLine.level == where.level)
    if where.client_id is not None:
        statement = statement.where(CommissionLine.trader_client_id == where.client_id)
    if where.symbol:
        statement = statement.where(StoredDeal.symbol == where.symbol)
    return statement


async def _views(session: AsyncSession, rows: Sequence[Any]) -> list[LineView]:
    """The rows' views, with what each overriding line's sub-IB earned on its deal read in one query."""
    rows = [tuple(row) for row in rows]
    keys = [
        None if basis is None or (downline := downline_of(basis)) is None else (line.deal_id, downline)
        for line, _deal, _version, _scheme, basis in rows
    ]
    earned = await _earned(session, {key for key in keys if key is not None})
    return [
        _view(line, deal, version, scheme, basis, () if key is None else earned.get(key, ()))
        for (line, deal, version, scheme, basis), key in zip(rows, keys, strict=True)
    ]


async def _earned(session: AsyncSession, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], Earned]:
    """(deal, sub-IB) -> the sub-IB's paid, non-overriding lines of the deal as (amount, rule code),
    in rule-code order: what the calculation's overriding saw (:func:`ib.rules.overriding.terms`)."""
    if not wanted:
        return {}
    c = CommissionLine
    found: dict[tuple[int, int], list[tuple[str, int]]] = {}
    downlines = sorted({downline for _, downline in wanted})
    for deals in among(session, c.deal_id, sorted({deal for deal, _ in wanted})):
        rows = await session.execute(
            select(c.deal_id, c.beneficiary_id, c.rule_code, c.amount).where(
                deals, c.beneficiary_id.in_(downlines), c.kind != OVERRIDING, c.amount > 0
            )
        )
        for deal_id, beneficiary_id, rule_code, amount in rows:
            if (deal_id, beneficiary_id) in wanted:
                found.setdefault((deal_id, beneficiary_id), []).append((rule_code, amount))
    return {key: tuple((amount, code) for code, amount in sorted(parts)) for key, parts in found.items()}


def _view(
    line: CommissionLine,
    deal: StoredDeal,
    version: int,
    scheme: str,
    basis: LineBasis | None,
    earned: Earned = (),
) -> LineView:
    inputs, formula = line.inputs, line.formula
    if basis is not None and (inputs is None or formula is None):
        rendered_inputs, rendered_formula = render(basis, deal, earned)
        inputs = dict(rendered_inputs) if inputs is None else inputs
        formula = rendered_formula if formula is None else formula
    return LineView(
        deal_id=line.deal_id,
        rule_id=line.rule_id,
        deal_time=aware(line.deal_time),
        server=deal.server,
        ticket=deal.ticket,
        login=deal.login,
        symbol=deal.symbol,
        lots=units_to_lots(deal.volume_closed),
        trader_client_id=line.trader_client_id,
        scheme=scheme,
        scheme_version=version,
        scheme_version_id=line.scheme_version_id,
        rule_code=line.rule_code,
        kind=line.kind,
        level=line.level,
        rank=line.rank_code,
        inputs=dict(inputs or {}),
        formula=formula or "",
        amount=line.amount,
        currency=line.currency,
        revision=line.revision,
    )


async def line_page(
    session: AsyncSession,
    partner_id: int,
    where: LineFilter,
    *,
    page: int = 1,
    per_page: int = 50,
    totals: Sequence[Total] | None = None,
) -> Page[LineView]:
    """The IB's lines, newest deal first. ``totals`` (from :func:`line_totals` for the same filter)
    saves counting the lines a second time when the caller shows them anyway."""
    offset, limit = page_bounds(page, per_page)
    base = _lines(partner_id, where)
    totals = await line_totals(session, partner_id, where) if totals is None else totals
    total = sum(item.lines for item in totals)
    rows = await session.execute(
        base.order_by(
            CommissionLine.deal_time.desc(), CommissionLine.deal_id.desc(), CommissionLine.rule_id.desc()
        )
        .offset(offset)
        .limit(limit)
    )
    return Page(await _views(session, rows.all()), offset // limit + 1, limit, total)


async def line_totals(session: AsyncSession, partner_id: int, where: LineFilter) -> list[Total]:
    """The filtered lines' sum per currency (what the page's footer shows)."""
    return await _grouped(session, partner_id, where, CommissionLine.currency)


async def get_line(session: AsyncSession, partner_id: int, deal_id: int, rule_id: int) -> LineView:
    """The IB's line of one deal under one rule."""
    statement = _lines(partner_id, LineFilter()).where(
        CommissionLine.deal_id == deal_id, CommissionLine.rule_id == rule_id
    )
    row = (await session.execute(statement)).first()
    if row is None:
        raise LineNotFoundError(f"IB {partner_id} has no commission line of deal {deal_id}, rule {rule_id}")
    return (await _views(session, [row]))[0]


SPREADSHEET_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A text cell as a spreadsheet shows it, never as a formula it runs (CSV injection)."""
    return f"'{text}" if text.startswith(SPREADSHEET_TRIGGERS) else text


CSV_HEADER = (
    "deal_id",
    "rule_id",
    "deal_time",
    "server",
    "ticket",
    "login",
    "symbol",
    "lots",
    "client_id",
    "scheme",
    "scheme_version",
    "rule",
    "kind",
    "level",
    "rank",
    "inputs",
    "formula",
    "amount_minor",
    "currency",
    "revision",
)


async def lines_csv(session: AsyncSession, partner_id: int, where: LineFilter) -> str:
    """The filtered lines as CSV, oldest first, amounts in minor units (a spreadsheet does the rest)."""
    rows = await session.execute(
        _lines(partner_id, where)
        .order_by(CommissionLine.deal_time, CommissionLine.deal_id, CommissionLine.rule_id)
        .limit(CSV_ROW_LIMIT)
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for view in await _views(session, rows.all()):
        writer.writerow(
            (
                view.deal_id,
                view.rule_id,
                view.deal_time.isoformat(),
                spreadsheet_safe(view.server),
                view.ticket,
                view.login,
                spreadsheet_safe(view.symbol),
                view.lots,
                view.trader_client_id,
                spreadsheet_safe(view.scheme),
                view.scheme_version,
                spreadsheet_safe(view.rule_code),
                view.kind,
                view.level,
                spreadsheet_safe(view.rank or ""),
                json.dumps(view.inputs, sort_keys=True),
                spreadsheet_safe(view.formula),
                view.amount,
                view.currency,
                view.revision,
            )
        )
    return buffer.getvalue()


async def _grouped(session: AsyncSession, partner_id: int, where: LineFilter, key: Any) -> list[Total]:
    statement = (
        select(key, CommissionLine.currency, func.sum(CommissionLine.amount), func.count())
        .select_from(CommissionLine)
        .where(CommissionLine.beneficiary_id == partner_id)
    )
    if where.symbol or key is StoredDeal.symbol:
        statement = statement.join(StoredDeal, StoredDeal.id == CommissionLine.deal_id)
    statement = _filtered(statement, where).group_by(key, CommissionLine.currency).order_by(key)
    return [
        Total(str(k), currency, int(amount or 0), int(count))
        for k, currency, amount, count in await session.execute(statement)
    ]


async def dashboard(session: AsyncSession, partner_id: int, now: datetime) -> Dashboard:
    """Commission of the UTC day and month so far, and the month's split by level."""
    today = LineFilter(start=day_start(now))
    month = LineFilter(start=month_start(now))
    return Dashboard(
        today=await line_totals(session, partner_id, today),
        this_month=await line_totals(session, partner_id, month),
        month_by_level=await _grouped(session, partner_id, month, CommissionLine.level),
    )


async def statistics(
    session: AsyncSession, partner_id: int, *, start: datetime, end: datetime, grain: Grain = "day"
) -> Statistics:
    """Sums over ``[start, end)`` by day or month, by symbol and by level."""
    where = LineFilter(start=start, end=end)
    return Statistics(
        start=aware(start),
        end=aware(end),
        grain=grain,
        by_period=await _grouped(
            session, partner_id, where, period_key(session, CommissionLine.deal_time, grain)
        ),
        by_symbol=await _grouped(session, partner_id, where, StoredDeal.symbol),
        by_level=await _grouped(session, partner_id, where, CommissionLine.level),
    )
