"""Building an IB world in a test database: ranks, a scheme, partners in a tree, clients, accounts.

Each test states its own tree and rules and reads back amounts per IB name, so the hand-worked
numbers in the test are the only thing the reader has to check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from core.db import Database
from ib import partners, reference, schemes
from ib.attribution import reassign_client
from ib.hierarchy import move_partner
from ib.ledger_accounts import payable_accounts
from ib.models import CommissionLine
from ledger.reading import get_balance
from mt_bridge.records import Deal, DealAction, DealEntry

T0 = datetime(2026, 10, 1, tzinfo=UTC)
"""When the world starts: partners, links and the scheme are effective from here."""
DAY1 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
STAFF = "staff:1"
SERVER = "mt5-live"
RANKS = (("bronze", 1), ("silver", 2), ("gold", 3))


@dataclass
class World:
    db: Database
    scheme_id: int
    version_id: int
    ids: dict[str, int] = field(default_factory=dict)
    """IB name -> partner id"""

    def name(self, partner_id: int) -> str:
        return {pid: name for name, pid in self.ids.items()}[partner_id]

    async def line_totals(self) -> dict[str, int]:
        async with self.db.session() as session:
            rows = await session.execute(select(CommissionLine.beneficiary_id, CommissionLine.amount))
            totals: dict[str, int] = {}
            for partner_id, amount in rows:
                totals[self.name(partner_id)] = totals.get(self.name(partner_id), 0) + amount
        return {name: total for name, total in totals.items() if total}

    async def payable(self, name: str, currency: str = "USD") -> int:
        async with self.db.transaction() as session:
            account = (await payable_accounts(session, [self.ids[name]], currency))[self.ids[name]]
        return (await get_balance(self.db, account)).posted

    async def payables(self) -> dict[str, int]:
        out = {}
        for name in self.ids:
            amount = await self.payable(name)
            if amount:
                out[name] = amount
        return out


async def build_world(
    db: Database,
    *,
    rules: Sequence[Mapping[str, Any]],
    ibs: Sequence[tuple[str, int, str | None, str | None]],
    clients: Mapping[int, str],
    accounts: Mapping[int, tuple[int, str]] | None = None,
    symbols: Mapping[str, tuple[str, int]] | None = None,
    currency: str = "USD",
) -> World:
    """``ibs``: (name, client id, parent name, rank); ``clients``: client id -> IB name;
    ``accounts``: login -> (client id, account type); by default login = client id + 5000, standard."""
    if accounts is None:
        accounts = {client + 5000: (client, "standard") for client in {*clients, *(i[1] for i in ibs)}}
    if symbols is None:
        symbols = {"EURUSD": ("forex", 5), "XAUUSD": ("metals", 2)}
    async with db.transaction() as session:
        for code, position in RANKS:
            await schemes.create_rank(session, code, name=code.title(), position=position)
        scheme = await schemes.create_scheme(session, "Standard", currency=currency, actor=STAFF, now=T0)
        version = await schemes.add_version(
            session, scheme.id, effective_from=T0, rules=rules, actor=STAFF, now=T0
        )
        await schemes.publish_version(session, version.id, actor=STAFF, now=T0)
        world = World(db, scheme.id, version.id)
        for name, client_id, parent, rank in ibs:
            partner = await partners.make_partner(
                session, client_id, scheme_id=scheme.id, rank_code=rank, actor=STAFF, now=T0
            )
            world.ids[name] = partner.id
            if parent is not None:
                await move_partner(
                    session,
                    partner.id,
                    world.ids[parent],
                    effective_from=T0 + timedelta(seconds=1),
                    actor=STAFF,
                    now=T0,
                    reason="setup",
                )
        for client_id, ib_name in clients.items():
            await reassign_client(
                session, client_id, world.ids[ib_name], effective_from=T0, reason="setup", actor=STAFF, now=T0
            )
        for login, (client_id, account_type) in accounts.items():
            await reference.register_trading_account(
                session,
                server=SERVER,
                login=login,
                client_id=client_id,
                account_type=account_type,
                currency=currency,
            )
        for symbol, (group, digits) in symbols.items():
            await reference.set_symbol(session, symbol, group=group, digits=digits)
    return world


def deal(
    ticket: int,
    login: int,
    *,
    lots: str = "1",
    symbol: str = "EURUSD",
    entry: int = DealEntry.OUT,
    profit: int = 0,
    commission: int = 0,
    time: datetime = DAY1,
    position_id: int | None = None,
    contract_size: str = "100000",
) -> Deal:
    """A trade deal as the bridge delivers it; a closing OUT by default."""
    return Deal(
        ticket=ticket,
        login=login,
        order=ticket,
        position_id=position_id if position_id is not None else ticket,
        action=DealAction.SELL,
        entry=entry,
        symbol=symbol,
        raw_symbol=symbol,
        volume=Decimal(lots),
        volume_closed=Decimal(lots) if entry != DealEntry.IN else Decimal(0),
        price=Decimal("1.10000"),
        profit=profit,
        commission=commission,
        swap=0,
        fee=0,
        currency_digits=2,
        contract_size=Decimal(contract_size),
        time=time,
        server_time_msc=int(time.timestamp() * 1000),
        comment="",
    )
