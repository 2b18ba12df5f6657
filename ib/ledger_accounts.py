"""The ledger accounts IB money moves between, found or opened through the ledger's chart.

Commission is earned from the house's IB commission expense account into one payable account
per IB and currency (owner id: the partner id); payouts move it on to the client's wallet.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.chart import OwnerKind, Purpose, ensure_system_accounts, find_account, open_owner_account
from ledger.errors import AccountNotFoundError
from ledger.models import Account


async def expense_account(session: AsyncSession, currency: str) -> int:
    try:
        return await find_account(session, Purpose.IB_COMMISSION_EXPENSE, currency)
    except AccountNotFoundError:
        accounts = await ensure_system_accounts(session, currency)
        return accounts[Purpose.IB_COMMISSION_EXPENSE]


async def payable_accounts(
    session: AsyncSession, partner_ids: Iterable[int], currency: str
) -> dict[int, int]:
    """Each partner's commission payable account in ``currency``, opened when missing."""
    wanted = {str(pid): pid for pid in partner_ids}
    found: dict[int, int] = {}
    if not wanted:
        return found
    rows = await session.execute(
        select(Account.owner_id, Account.id).where(
            Account.owner_kind == str(OwnerKind.IB),
            Account.purpose == str(Purpose.IB_COMMISSION_PAYABLE),
            Account.currency == currency,
            Account.owner_id.in_(list(wanted)),
        )
    )
    for owner_id, account_id in rows:
        found[wanted[owner_id]] = account_id
    for owner_id, pid in wanted.items():
        if pid not in found:
            found[pid] = await open_owner_account(session, Purpose.IB_COMMISSION_PAYABLE, owner_id, currency)
    return found


async def wallet_account(session: AsyncSession, client_id: int, currency: str) -> int:
    return await open_owner_account(session, Purpose.CLIENT_WALLET, str(client_id), currency)
