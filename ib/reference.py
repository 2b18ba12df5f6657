"""What the engine must know from other contexts, recorded here until those contexts feed it.

The bridge knows logins and symbols, the cashier knows deposits; until they are merged, their
services (or a test, or the simulator's importer) tell IB through these upserts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ib.models import ClientDeposit, SymbolSpec, TradingAccount


async def register_trading_account(
    session: AsyncSession, *, server: str, login: int, client_id: int, account_type: str, currency: str
) -> TradingAccount:
    account = await session.scalar(
        select(TradingAccount).where(TradingAccount.server == server, TradingAccount.login == login)
    )
    if account is None:
        account = TradingAccount(server=server, login=login, client_id=client_id)
        session.add(account)
    account.account_type = account_type
    account.currency = currency
    await session.flush()
    return account


async def set_symbol(session: AsyncSession, symbol: str, *, group: str, digits: int) -> SymbolSpec:
    spec = await session.get(SymbolSpec, symbol)
    if spec is None:
        spec = SymbolSpec(symbol=symbol, symbol_group=group, digits=digits)
        session.add(spec)
    spec.symbol_group = group
    spec.digits = digits
    await session.flush()
    return spec


async def record_deposit(
    session: AsyncSession, client_id: int, amount: int, currency: str, at: datetime
) -> bool:
    """Remember a client's first deposit (later ones change nothing); True when this one was first."""
    if await session.get(ClientDeposit, client_id) is not None:
        return False
    session.add(ClientDeposit(client_id=client_id, amount=amount, currency=currency, deposited_at=at))
    await session.flush()
    return True
