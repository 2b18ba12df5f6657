"""Client statements: the wallet's ledger entries for a date range, as CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from cashier.money import format_amount
from cashier.transactions import money_transaction
from cashier.wallets import scale_of, wallet_account
from core.db import Database
from ledger.reading import StatementLine, statement

PAGE = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """Spreadsheet-safe text: a leading formula character is neutralised."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


async def statement_lines(
    db: Database, client_id: int, currency: str, start: datetime, end: datetime
) -> tuple[int, list[StatementLine], int]:
    """(opening balance, lines, scale) of the client's wallet between ``start`` and ``end``."""
    async with money_transaction(db) as session:
        account_id = await wallet_account(session, client_id, currency)
        scale = await scale_of(session, currency)
    lines: list[StatementLine] = []
    after: int | None = None
    opening = 0
    while True:
        page = await statement(db, account_id, start=start, end=end, after_version=after, limit=PAGE)
        if after is None:
            opening = page.opening_balance
        lines.extend(page.lines)
        if page.next_after_version is None:
            return opening, lines, scale
        after = page.next_after_version


async def statement_csv(db: Database, client_id: int, currency: str, start: datetime, end: datetime) -> str:
    opening, lines, scale = await statement_lines(db, client_id, currency, start, end)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "description", "reference", "amount", "pending", "balance", "currency"])
    writer.writerow(
        [
            start.isoformat(),
            "opening balance",
            "",
            "",
            "",
            format_amount(opening, scale).replace(",", ""),
            currency,
        ]
    )
    for line in lines:
        writer.writerow(
            [
                line.created_at.isoformat(),
                _cell(line.code or line.kind),
                _cell(line.reference or ""),
                format_amount(line.posted_change, scale).replace(",", ""),
                format_amount(line.pending_change, scale).replace(",", ""),
                format_amount(line.balance_after, scale).replace(",", ""),
                currency,
            ]
        )
    return out.getvalue()
