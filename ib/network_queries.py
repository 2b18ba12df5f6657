"""An IB's network read for its portal: the tree with volume per node, the clients with their trading
accounts, and the network's deals. Everything is cut to :class:`~ib.downline.Downline`, so a client
or a deal outside the IB's network today is "not found"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.models import User
from ib.deals import CLOSING_ENTRIES
from ib.downline import Downline
from ib.errors import IbError
from ib.models import ClientLink, CommissionLine, StoredDeal, TradingAccount
from ib.query_common import Page, Window, page_bounds
from ib.rounding import units_to_lots
from ib.timeutil import aware, aware_or_none

NO_LOTS = Decimal(0)


class NotInNetworkError(IbError):
    """Raised when a client (or a deal, or a sub-IB) is not in the IB's network today."""


@dataclass
class NodeView:
    """One IB of the network with the lots its own clients (and its own account) closed, and the
    lots of its whole branch."""

    partner_id: int
    client_id: int
    rank: str | None
    depth: int
    clients: int
    own_lots: Decimal
    branch_lots: Decimal = NO_LOTS
    children: list[NodeView] = field(default_factory=list)


@dataclass(frozen=True)
class AccountView:
    server: str
    login: int
    account_type: str
    currency: str


@dataclass(frozen=True)
class ClientView:
    """A client of the network: who it is (email masked), under which IB since when (for a sub-IB:
    the IB it is under), its accounts, the lots it closed in the window and what it earned the
    viewing IB there."""

    client_id: int
    email: str
    ib_partner_id: int
    is_sub_ib: bool
    since: datetime | None
    accounts: list[AccountView]
    lots: Decimal
    earned: dict[str, int]


@dataclass(frozen=True)
class DealFilter:
    start: datetime | None = None
    end: datetime | None = None
    symbol: str | None = None
    client_id: int | None = None
    login: int | None = None


@dataclass(frozen=True)
class DealView:
    id: int
    time: datetime
    server: str
    ticket: int
    login: int
    client_id: int
    position_id: int
    entry: int
    symbol: str
    lots: Decimal
    profit: int
    commission: int
    currency_digits: int
    deleted: bool


def mask_email(email: str) -> str:
    """``dana@example.test`` as ``d***@example.test``: enough for an IB to recognise its client,
    not enough to harvest addresses."""
    name, at, domain = email.partition("@")
    return f"{name[:1]}***{at}{domain}" if at else "***"


async def closed_lots(
    session: AsyncSession, client_ids: Iterable[int] | Downline, window: Window
) -> dict[int, Decimal]:
    """Lots closed per client in the window (closing entries only, deleted deals left out)."""
    statement = select(StoredDeal.client_id, func.sum(StoredDeal.volume_closed)).where(
        StoredDeal.entry.in_(sorted(int(e) for e in CLOSING_ENTRIES)), StoredDeal.deleted.is_(False)
    )
    if isinstance(client_ids, Downline):
        statement = statement.where(
            client_ids.client_filter(StoredDeal.client_id)
            | (StoredDeal.client_id == client_ids.root.client_id)
        )
    else:
        statement = statement.where(StoredDeal.client_id.in_(sorted(set(client_ids))))
    statement = window.apply(statement, StoredDeal.time).group_by(StoredDeal.client_id)
    rows: Sequence[tuple[int, int | None]] = (await session.execute(statement)).all()
    return {client: units_to_lots(int(units or 0)) for client, units in rows}


async def network_tree(session: AsyncSession, downline: Downline, window: Window) -> NodeView:
    """The network as it stands at the downline's moment, with lots closed in ``window`` per node."""
    lots = await closed_lots(session, downline, window)
    views: dict[int, NodeView] = {}
    for node, depth in downline.root.walk():
        own = lots.get(node.client_id, NO_LOTS) + sum((lots.get(c, NO_LOTS) for c in node.clients), NO_LOTS)
        views[node.partner_id] = NodeView(
            node.partner_id, node.client_id, node.rank, depth, len(node.clients), own
        )
    for node, _depth in downline.root.walk():
        views[node.partner_id].children = [views[child.partner_id] for child in node.children]

    def total(view: NodeView) -> Decimal:
        view.branch_lots = view.own_lots + sum((total(child) for child in view.children), NO_LOTS)
        return view.branch_lots

    root = views[downline.partner_id]
    total(root)
    return root


def network_client_ids(downline: Downline) -> list[int]:
    return sorted({*downline.referred_clients, *downline.sub_ib_clients})


async def client_views(
    session: AsyncSession, downline: Downline, client_ids: Sequence[int], window: Window
) -> list[ClientView]:
    """Details of some of the network's clients (a page of them, or one)."""
    if not client_ids:
        return []
    ids = sorted(client_ids)
    emails = dict((await session.execute(select(User.id, User.email).where(User.id.in_(ids)))).all())
    since = {
        client: aware_or_none(start)
        for client, start in await session.execute(
            select(ClientLink.client_id, ClientLink.valid_from).where(
                ClientLink.client_id.in_(ids), ClientLink.valid_to.is_(None)
            )
        )
    }
    accounts: dict[int, list[AccountView]] = {}
    for row in (
        await session.scalars(
            select(TradingAccount)
            .where(TradingAccount.client_id.in_(ids))
            .order_by(TradingAccount.server, TradingAccount.login)
        )
    ).all():
        accounts.setdefault(row.client_id, []).append(
            AccountView(row.server, row.login, row.account_type, row.currency)
        )
    lots = await closed_lots(session, ids, window)
    earned_statement = window.apply(
        select(CommissionLine.trader_client_id, CommissionLine.currency, func.sum(CommissionLine.amount))
        .where(CommissionLine.beneficiary_id == downline.partner_id, CommissionLine.trader_client_id.in_(ids))
        .group_by(CommissionLine.trader_client_id, CommissionLine.currency),
        CommissionLine.deal_time,
    )
    earned: dict[int, dict[str, int]] = {}
    for client, currency, amount in await session.execute(earned_statement):
        earned.setdefault(client, {})[currency] = int(amount or 0)
    sub_ibs = downline.sub_ib_clients
    referred = downline.referred_clients
    return [
        ClientView(
            client_id=client,
            email=mask_email(emails.get(client, "")),
            ib_partner_id=downline.parent_of[sub_ibs[client]] if client in sub_ibs else referred[client],
            is_sub_ib=client in sub_ibs,
            since=since.get(client),
            accounts=accounts.get(client, []),
            lots=lots.get(client, NO_LOTS),
            earned=earned.get(client, {}),
        )
        for client in ids
    ]


async def client_page(
    session: AsyncSession, downline: Downline, window: Window, *, page: int = 1, per_page: int = 50
) -> Page[ClientView]:
    everyone = network_client_ids(downline)
    offset, limit = page_bounds(page, per_page)
    items = await client_views(session, downline, everyone[offset : offset + limit], window)
    return Page(items, offset // limit + 1, limit, len(everyone))


async def network_client(
    session: AsyncSession, downline: Downline, client_id: int, window: Window
) -> ClientView:
    if not downline.owns_client(client_id):
        raise NotInNetworkError(f"client {client_id} is not in the network of IB {downline.partner_id}")
    [view] = await client_views(session, downline, [client_id], window)
    return view


def _deals(downline: Downline, where: DealFilter) -> Select[StoredDeal]:
    statement = select(StoredDeal).where(downline.client_filter(StoredDeal.client_id))
    statement = Window(where.start, where.end).apply(statement, StoredDeal.time)
    if where.symbol:
        statement = statement.where(StoredDeal.symbol == where.symbol)
    if where.client_id is not None:
        statement = statement.where(StoredDeal.client_id == where.client_id)
    if where.login is not None:
        statement = statement.where(StoredDeal.login == where.login)
    return statement


def _deal_view(row: StoredDeal) -> DealView:
    return DealView(
        id=row.id,
        time=aware(row.time),
        server=row.server,
        ticket=row.ticket,
        login=row.login,
        client_id=row.client_id,
        position_id=row.position_id,
        entry=row.entry,
        symbol=row.symbol,
        lots=units_to_lots(row.volume_closed),
        profit=row.profit,
        commission=row.commission,
        currency_digits=row.currency_digits,
        deleted=row.deleted,
    )


async def deal_page(
    session: AsyncSession, downline: Downline, where: DealFilter, *, page: int = 1, per_page: int = 50
) -> Page[DealView]:
    """The network's deals (the IB's own trading is on its own account pages), newest first."""
    offset, limit = page_bounds(page, per_page)
    base = _deals(downline, where)
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = await session.scalars(
        base.order_by(StoredDeal.time.desc(), StoredDeal.id.desc()).offset(offset).limit(limit)
    )
    return Page([_deal_view(row) for row in rows.all()], offset // limit + 1, limit, total)


async def network_symbols(session: AsyncSession, downline: Downline) -> list[str]:
    """Symbols the network traded, for the filter's choices."""
    rows = await session.scalars(
        select(StoredDeal.symbol)
        .where(downline.client_filter(StoredDeal.client_id))
        .distinct()
        .order_by(StoredDeal.symbol)
    )
    return list(rows.all())
