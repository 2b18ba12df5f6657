"""Feeding the commission engine from the bridge: the deals a sync stored become commission.

The bridge knows nothing of IB (it sits below it), so the worker that ran a sync pass sends
``ib.process_synced_deals`` with the server's id and the moment the pass started. The bridge's
upsert stamps ``synced_at`` on every deal it inserts or changes, and only then, so the deals
stamped at or after that moment are exactly what the pass added or edited; deals it marked deleted
keep their stamp and are found by their time instead (``deleted_since``). Each batch goes through
:func:`ib.engine.process_deals` in a transaction of its own. The engine compares fingerprints, so a
redelivered job, or a deal read again by a later pass, changes nothing.

Logins and symbols the engine has not seen yet are learnt from the bridge's tables on the way
(:mod:`ib.reference`): a login's client, account type and currency; a symbol's group and digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from ib import reference
from ib.engine import Outcome, process_deals
from ib.models import SymbolSpec
from ib.models import TradingAccount as IbTradingAccount
from ib.snapshot import chunked
from ib.timeutil import aware
from mt_bridge.models import (
    AccountType,
    MirroredDeal,
    SymbolGroup,
    TradingAccount,
    TradingServer,
    TradingSymbol,
    table_of,
)
from mt_bridge.records import Deal, DealAction

FEED_ACTOR = "ib.process_synced_deals"
FEED_BATCH = 5_000
"""Deals per engine transaction: big enough to amortise the snapshot, short enough to hold no lock long."""
TRADE_ACTIONS = (int(DealAction.BUY), int(DealAction.SELL))


async def process_synced_deals(
    db: Database,
    server_id: int,
    *,
    changed_since: datetime,
    deleted_since: datetime,
    now: datetime | None = None,
) -> Outcome:
    """Run the server's trade deals stored or changed since ``changed_since``, and the ones deleted
    among those dated from ``deleted_since``, through the engine; returns what it did in total."""
    total = Outcome()
    deals_table = table_of(MirroredDeal)
    c = deals_table.c
    async with db.session() as session:
        server = await session.scalar(select(TradingServer.name).where(TradingServer.id == server_id))
        if server is None:
            return total
        contract_sizes = await _contract_sizes(session)
    after_id = 0
    while True:
        async with db.session() as session:
            rows = (
                (
                    await session.execute(
                        select(deals_table)
                        .where(
                            c.server_id == server_id,
                            c.synced_at >= changed_since,
                            c.id > after_id,
                            c.deleted.is_(False),
                            c.action.in_(TRADE_ACTIONS),
                        )
                        .order_by(c.id)
                        .limit(FEED_BATCH)
                    )
                )
                .mappings()
                .all()
            )
        if not rows:
            break
        after_id = rows[-1]["id"]
        deals = [as_deal(row, contract_sizes.get(row["symbol"], Decimal(0))) for row in rows]
        await learn_reference(db, server_id, server, deals)
        total.add(await process_deals(db, server, deals, now=now))
    async with db.session() as session:
        deleted = list(
            await session.scalars(
                select(c.ticket)
                .where(
                    c.server_id == server_id,
                    c.deleted.is_(True),
                    c.time >= deleted_since,
                    c.action.in_(TRADE_ACTIONS),
                )
                .order_by(c.ticket)
            )
        )
    for start in range(0, len(deleted), FEED_BATCH):
        chunk = deleted[start : start + FEED_BATCH]
        total.add(await process_deals(db, server, [], deleted_tickets=chunk, now=now))
    return total


def as_deal(row: Any, contract_size: Decimal) -> Deal:
    """A mirrored deal row as the bridge record the engine takes; the contract size, which the
    mirror does not keep, comes from the symbol's settings (0 when unknown: no spread is paid)."""
    return Deal(
        ticket=row["ticket"],
        login=row["login"],
        order=row["order_ticket"],
        position_id=row["position_id"],
        action=row["action"],
        entry=row["entry"],
        symbol=row["symbol"],
        raw_symbol=row["raw_symbol"],
        volume=row["volume"],
        volume_closed=row["volume_closed"],
        price=row["price"],
        profit=row["profit"],
        commission=row["commission"],
        swap=row["swap"],
        fee=row["fee"],
        currency_digits=row["currency_digits"],
        contract_size=contract_size,
        time=aware(row["time"]),
        server_time_msc=row["time_msc"],
        comment=row["comment"],
    )


async def _contract_sizes(session: AsyncSession) -> dict[str, Decimal]:
    return {
        name: size
        for name, size in await session.execute(select(TradingSymbol.name, TradingSymbol.contract_size))
    }


async def learn_reference(db: Database, server_id: int, server: str, deals: Sequence[Deal]) -> None:
    """Tell the engine the logins and symbols of ``deals`` that it does not know yet (reads, then
    writes: on SQLite the block holds the write lock from its start, see
    :meth:`Database.write_transaction`; the demo's worker once failed here with "database is
    locked" while other jobs wrote)."""
    async with db.write_transaction() as session:
        for logins in chunked(sorted({deal.login for deal in deals})):
            await _learn_logins(session, server_id, server, logins)
        for symbols in chunked(sorted({deal.symbol for deal in deals})):
            await _learn_symbols(session, symbols)


async def _learn_logins(session: AsyncSession, server_id: int, server: str, logins: Sequence[int]) -> None:
    known = set(
        await session.scalars(
            select(IbTradingAccount.login).where(
                IbTradingAccount.server == server, IbTradingAccount.login.in_(logins)
            )
        )
    )
    missing = [login for login in logins if login not in known]
    if not missing:
        return
    accounts = await session.execute(
        select(TradingAccount.login, TradingAccount.client_id, AccountType.code, TradingAccount.currency)
        .join(AccountType, AccountType.id == TradingAccount.account_type_id)
        .where(TradingAccount.server_id == server_id, TradingAccount.login.in_(missing))
    )
    for login, client_id, account_type, currency in accounts:
        assert login is not None  # selected by login
        await reference.register_trading_account(
            session,
            server=server,
            login=login,
            client_id=client_id,
            account_type=account_type,
            currency=currency,
        )


async def _learn_symbols(session: AsyncSession, symbols: Sequence[str]) -> None:
    known = set(await session.scalars(select(SymbolSpec.symbol).where(SymbolSpec.symbol.in_(symbols))))
    unknown = [symbol for symbol in symbols if symbol not in known]
    if not unknown:
        return
    specs = await session.execute(
        select(TradingSymbol.name, TradingSymbol.digits, SymbolGroup.name)
        .outerjoin(SymbolGroup, SymbolGroup.id == TradingSymbol.symbol_group_id)
        .where(TradingSymbol.name.in_(unknown))
    )
    for name, digits, group in specs:
        await reference.set_symbol(session, name, group=group or "", digits=digits)
