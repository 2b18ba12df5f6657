"""Compare the ledger with what an outside system says, and list every difference.

The trading platform reports a balance per login, a PSP reports what it holds for us, a bank
sends a statement. :func:`reconcile` lines those figures up against the ledger accounts of one
purpose and currency and reports each difference. It never posts a correction: a difference is
for a person to explain (a missing deposit, a dealer's manual adjustment, a settlement in flight).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.chart import CHART, Purpose
from ledger.reading import Balance, get_balances
from ledger.storage import Readable, accounts_table, reading_connection


class DifferenceKind(StrEnum):
    AMOUNT_MISMATCH = "amount_mismatch"
    MISSING_IN_LEDGER = "missing_in_ledger"
    """The outside system reports an owner the ledger has no account for."""
    MISSING_IN_SOURCE = "missing_in_source"
    """The ledger has a non-zero account the outside system did not report."""


@dataclass(frozen=True, slots=True)
class Difference:
    owner_id: str
    account_id: int | None
    ledger_balance: int
    reported_balance: int
    kind: DifferenceKind

    @property
    def amount(self) -> int:
        """Reported minus ledger: what the ledger would need to agree with the outside system."""
        return self.reported_balance - self.ledger_balance


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    source_name: str
    purpose: Purpose
    currency: str
    compared: int
    differences: list[Difference]

    @property
    def matched(self) -> bool:
        return not self.differences


async def reconcile(
    source: Readable,
    *,
    source_name: str,
    purpose: Purpose,
    currency: str,
    reported: Mapping[str, int],
    use_available: bool = False,
) -> ReconciliationReport:
    """Compare ledger balances of ``purpose`` accounts in ``currency`` with ``reported``.

    ``reported`` maps an owner id (an MT login, a PSP name) to the balance the outside system gives,
    in minor units on the account's normal side. The ledger's posted balance is compared unless
    ``use_available`` asks for posted minus pending outflows (a PSP that already counts a payout
    as gone, say).
    """
    async with reading_connection(source) as conn:
        return await _reconcile(
            conn,
            source_name=source_name,
            purpose=purpose,
            currency=currency,
            reported=reported,
            use_available=use_available,
        )


async def _reconcile(
    conn: AsyncConnection,
    *,
    source_name: str,
    purpose: Purpose,
    currency: str,
    reported: Mapping[str, int],
    use_available: bool,
) -> ReconciliationReport:
    role = CHART[purpose]
    a = accounts_table
    rows = (
        await conn.execute(
            select(a.c.id, a.c.owner_id).where(
                a.c.purpose == str(purpose), a.c.owner_kind == str(role.owner_kind), a.c.currency == currency
            )
        )
    ).all()
    account_by_owner = {row.owner_id: row.id for row in rows}
    balances: dict[int, Balance] = await get_balances(conn, list(account_by_owner.values()))

    def ledger_value(account_id: int) -> int:
        balance = balances[account_id]
        return balance.available if use_available else balance.posted

    differences: list[Difference] = []
    for owner_id in sorted(set(reported) | set(account_by_owner)):
        account_id = account_by_owner.get(owner_id)
        if account_id is None:
            differences.append(
                Difference(owner_id, None, 0, reported[owner_id], DifferenceKind.MISSING_IN_LEDGER)
            )
            continue
        ledger_balance = ledger_value(account_id)
        if owner_id not in reported:
            if ledger_balance != 0:
                differences.append(
                    Difference(owner_id, account_id, ledger_balance, 0, DifferenceKind.MISSING_IN_SOURCE)
                )
            continue
        if reported[owner_id] != ledger_balance:
            differences.append(
                Difference(
                    owner_id, account_id, ledger_balance, reported[owner_id], DifferenceKind.AMOUNT_MISMATCH
                )
            )
    return ReconciliationReport(
        source_name, purpose, currency, len(set(reported) | set(account_by_owner)), differences
    )
