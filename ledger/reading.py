"""Reading the books: balances, past balances, statements and the trial balance.

Nothing here writes. Balances come from the account counters (current) or from the entry chain
(any past moment); both are kept in step by :mod:`ledger.posting`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.errors import AccountNotFoundError
from ledger.storage import Readable, accounts_table, entries_table, reading_connection, transfers_table

STATEMENT_PAGE_MAX = 1000


def as_utc(moment: datetime) -> datetime:
    """SQLite returns naive timestamps (stored in UTC); make every timestamp aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's balances on its normal side, in minor units.

    ``posted`` is what has settled. ``pending_out`` is reserved by pending transfers that would
    lower it, ``pending_in`` what pending transfers would add. ``available`` is what can still be
    spent: posted minus pending out (pending money coming in is not spendable yet).
    """

    account_id: int
    currency: str
    normal_side: str
    posted: int
    pending_out: int
    pending_in: int

    @property
    def available(self) -> int:
        return self.posted - self.pending_out


def credit_normal_posted_balance() -> ColumnElement[int]:
    """SQL for a credit-normal account's posted balance (a client wallet's), over ``accounts``, for
    set-based readers outside the ledger (the analytics recompute), which never name the counters."""
    a = accounts_table.c
    result: ColumnElement[int] = a.credits_posted - a.debits_posted
    return result


def _balance_from_row(row: object) -> Balance:
    r = row  # a Row with the account columns
    credit_normal = r.normal_side == "credit"  # type: ignore[attr-defined]
    dp, cp = r.debits_posted, r.credits_posted  # type: ignore[attr-defined]
    dpe, cpe = r.debits_pending, r.credits_pending  # type: ignore[attr-defined]
    posted = cp - dp if credit_normal else dp - cp
    pending_out, pending_in = (dpe, cpe) if credit_normal else (cpe, dpe)
    return Balance(r.id, r.currency, r.normal_side, posted, pending_out, pending_in)  # type: ignore[attr-defined]


BALANCE_COLUMNS = (
    accounts_table.c.id,
    accounts_table.c.currency,
    accounts_table.c.normal_side,
    accounts_table.c.debits_posted,
    accounts_table.c.credits_posted,
    accounts_table.c.debits_pending,
    accounts_table.c.credits_pending,
)


async def get_balances(source: Readable, account_ids: Sequence[int]) -> dict[int, Balance]:
    """Current balances of several accounts; unknown ids are simply absent."""
    if not account_ids:
        return {}
    async with reading_connection(source) as conn:
        statement = select(*BALANCE_COLUMNS).where(accounts_table.c.id.in_(list(account_ids)))
        rows = (await conn.execute(statement)).all()
    return {row.id: _balance_from_row(row) for row in rows}


async def get_balance(source: Readable, account_id: int) -> Balance:
    balances = await get_balances(source, [account_id])
    if account_id not in balances:
        raise AccountNotFoundError(f"no account {account_id}")
    return balances[account_id]


async def balance_at(source: Readable, account_id: int, moment: datetime) -> int:
    """The posted balance (normal side) as it stood at ``moment``, recomputed from the entry chain."""
    moment = moment.astimezone(UTC)
    async with reading_connection(source) as conn:
        await get_balance(conn, account_id)
        value = await conn.scalar(
            select(entries_table.c.balance_after)
            .where(entries_table.c.account_id == account_id, entries_table.c.created_at <= moment)
            .order_by(entries_table.c.version.desc())
            .limit(1)
        )
    return int(value or 0)


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One entry of an account: what moved and the running posted balance after it."""

    version: int
    transfer_id: int
    created_at: datetime
    kind: str
    code: str
    reference: str | None
    side: str
    posted_change: int
    """Signed change of the posted balance on the account's normal side."""
    pending_change: int
    """Signed change of the amount reserved (pending) on this side of the account."""
    balance_after: int


@dataclass(frozen=True, slots=True)
class StatementPage:
    """A page of a statement. ``opening_balance`` is the balance before the period's first entry."""

    account_id: int
    currency: str
    start: datetime
    end: datetime
    opening_balance: int
    lines: list[StatementLine]
    next_after_version: int | None
    """Pass as ``after_version`` to get the next page; ``None`` on the last page."""


async def statement(
    source: Readable,
    account_id: int,
    *,
    start: datetime,
    end: datetime,
    after_version: int | None = None,
    limit: int = 100,
) -> StatementPage:
    """Entries of ``account_id`` with ``start <= created_at < end``, oldest first, one page at a time.

    Pages are keyed on the entry version (keyset pagination), so a page never shifts when new
    entries arrive while someone is reading.
    """
    if not 0 < limit <= STATEMENT_PAGE_MAX:
        raise ValueError(f"limit must be between 1 and {STATEMENT_PAGE_MAX}")
    async with reading_connection(source) as conn:
        return await _statement(
            conn, account_id, start.astimezone(UTC), end.astimezone(UTC), after_version, limit
        )


async def _statement(
    conn: AsyncConnection,
    account_id: int,
    start: datetime,
    end: datetime,
    after_version: int | None,
    limit: int,
) -> StatementPage:
    account = await get_balance(conn, account_id)
    e, t = entries_table, transfers_table
    opening = await conn.scalar(
        select(e.c.balance_after)
        .where(e.c.account_id == account_id, e.c.created_at < start)
        .order_by(e.c.version.desc())
        .limit(1)
    )
    conditions = [e.c.account_id == account_id, e.c.created_at >= start, e.c.created_at < end]
    if after_version is not None:
        conditions.append(e.c.version > after_version)
    rows = (
        await conn.execute(
            select(
                e.c.version,
                e.c.transfer_id,
                e.c.created_at,
                e.c.side,
                e.c.posted_amount,
                e.c.pending_amount,
                e.c.balance_after,
                t.c.kind,
                t.c.code,
                t.c.reference,
            )
            .join(t, t.c.id == e.c.transfer_id)
            .where(and_(*conditions))
            .order_by(e.c.version)
            .limit(limit + 1)
        )
    ).all()
    credit_normal = account.normal_side == "credit"
    lines = []
    for row in rows[:limit]:
        raises_balance = (row.side == "credit") == credit_normal
        lines.append(
            StatementLine(
                version=row.version,
                transfer_id=row.transfer_id,
                created_at=as_utc(row.created_at),
                kind=row.kind,
                code=row.code,
                reference=row.reference,
                side=row.side,
                posted_change=row.posted_amount if raises_balance else -row.posted_amount,
                pending_change=row.pending_amount,
                balance_after=row.balance_after,
            )
        )
    next_after = lines[-1].version if len(rows) > limit else None
    return StatementPage(account_id, account.currency, start, end, int(opening or 0), lines, next_after)


@dataclass(frozen=True, slots=True)
class TrialBalanceLine:
    purpose: str
    accounts: int
    debits: int
    credits: int

    @property
    def net_debit(self) -> int:
        return self.debits - self.credits


@dataclass(frozen=True, slots=True)
class TrialBalance:
    """Posted debits and credits per chart purpose for one currency. Balanced books sum to zero."""

    currency: str
    lines: list[TrialBalanceLine]
    pending_debits: int
    pending_credits: int

    @property
    def total_debits(self) -> int:
        return sum(line.debits for line in self.lines)

    @property
    def total_credits(self) -> int:
        return sum(line.credits for line in self.lines)

    @property
    def net(self) -> int:
        """Total debits minus total credits: zero, or the books are broken."""
        return self.total_debits - self.total_credits

    @property
    def balanced(self) -> bool:
        return self.net == 0 and self.pending_debits == self.pending_credits


async def trial_balance(source: Readable, currency: str) -> TrialBalance:
    a = accounts_table
    async with reading_connection(source) as conn:
        result = await conn.execute(
            select(
                a.c.purpose,
                func.count(),
                func.coalesce(func.sum(a.c.debits_posted), 0),
                func.coalesce(func.sum(a.c.credits_posted), 0),
                func.coalesce(func.sum(a.c.debits_pending), 0),
                func.coalesce(func.sum(a.c.credits_pending), 0),
            )
            .where(a.c.currency == currency)
            .group_by(a.c.purpose)
            .order_by(a.c.purpose)
        )
        rows = result.all()
    lines = [TrialBalanceLine(row[0], int(row[1]), int(row[2]), int(row[3])) for row in rows]
    return TrialBalance(
        currency,
        lines,
        pending_debits=sum(int(row[4]) for row in rows),
        pending_credits=sum(int(row[5]) for row in rows),
    )
