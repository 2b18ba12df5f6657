"""A client's wallets: one ledger account per client and currency, opened when first needed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.errors import UnsupportedCurrencyError
from core.db import Database
from core.settings import Settings
from ledger.chart import Purpose, SystemAccounts, ensure_system_accounts, open_owner_account
from ledger.fx import currency_scales
from ledger.reading import Balance, get_balances
from ledger.storage import accounts_table


@dataclass(frozen=True)
class Wallet:
    """One wallet with its balances (minor units) and its currency's scale."""

    account_id: int
    currency: str
    scale: int
    balance: Balance


def require_currency(settings: Settings, currency: str) -> str:
    code = (currency or "").strip().upper()
    if code not in settings.cashier_currency_list:
        raise UnsupportedCurrencyError(f"{code or 'This currency'} is not offered.")
    return code


async def wallet_account(session: AsyncSession, client_id: int, currency: str) -> int:
    """The client's wallet in ``currency`` (opened on first use; idempotent)."""
    return await open_owner_account(session, Purpose.CLIENT_WALLET, str(client_id), currency)


async def house_accounts(session: AsyncSession, currency: str, psp: str | None = None) -> SystemAccounts:
    return await ensure_system_accounts(session, currency, psps=(psp,) if psp else ())


async def scale_of(session: AsyncSession, currency: str) -> int:
    return (await currency_scales(session, currency))[currency]


async def client_wallets(db: Database, client_id: int) -> list[Wallet]:
    """Every wallet the client has, with balances, in currency order."""
    a = accounts_table.c
    async with db.session() as session:
        rows = (
            await session.execute(
                select(a.id, a.currency).where(
                    a.owner_kind == "client",
                    a.owner_id == str(client_id),
                    a.purpose == str(Purpose.CLIENT_WALLET),
                )
            )
        ).all()
        if not rows:
            return []
        scales = await currency_scales(session, *{row.currency for row in rows})
        balances = await get_balances(session, [row.id for row in rows])
    return sorted(
        (Wallet(row.id, row.currency, scales[row.currency], balances[row.id]) for row in rows),
        key=lambda wallet: wallet.currency,
    )


async def available_balance(session: AsyncSession, client_id: int, currency: str) -> int:
    account_id = await wallet_account(session, client_id, currency)
    return (await get_balances(session, [account_id]))[account_id].available


async def wallet_balances_of(db: Database, client_ids: list[int]) -> dict[tuple[int, str], Balance]:
    """Wallet balances of many clients at once, keyed by (client id, currency): for finance queues."""
    if not client_ids:
        return {}
    a = accounts_table.c
    async with db.session() as session:
        rows = (
            await session.execute(
                select(a.id, a.owner_id, a.currency).where(
                    a.owner_kind == "client",
                    a.purpose == str(Purpose.CLIENT_WALLET),
                    a.owner_id.in_([str(client_id) for client_id in set(client_ids)]),
                )
            )
        ).all()
        balances = await get_balances(session, [row.id for row in rows])
    return {(int(row.owner_id), row.currency): balances[row.id] for row in rows}
