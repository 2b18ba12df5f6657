"""The recompute: every client's figures from the source tables, in one INSERT … SELECT.

What counts:

- **deposits**: credited deposits, for what reached the wallet (``credited_amount``);
- **withdrawals**: paid withdrawals, for their amount (the fee is the broker's, not the client's
  money leaving);
- **volume**: closing deals (entry OUT, INOUT or OUT_BY) of buys and sells on live accounts that
  the server has not deleted; **last trade**: the newest buy or sell deal of any entry;
- **commissions**: every IB commission line written for the client's deals, whoever earned it;
- **last login**: the client's last portal sign-in (``users.last_login_at``);
- **balance**: posted wallet balances plus the mirrored balances of live trading accounts.

Amounts are summed per currency, converted (:mod:`analytics.conversion`) and added up. The run
replaces the whole table inside one transaction, so readers see the old figures or the new ones,
never a mix, and running it twice in a row writes the same rows (idempotent); on PostgreSQL a
transaction-scoped advisory lock makes a second concurrent run wait instead of colliding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Numeric,
    Select,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.conversion import Conversion, conversion_to
from analytics.models import LOTS_SCALE, ClientMetrics
from analytics.settings import REPORT_CURRENCY, STANDARD, AnalyticsSettings, load_settings
from cashier.models import Deposit, DepositStatus, Withdrawal, WithdrawalStatus
from core import clock
from core.db import Database
from core.identity.models import CLIENT, User
from ib.models import CommissionLine
from ib.sessions import posting_session
from ledger.chart import Purpose
from ledger.models import Account, Currency
from ledger.reading import credit_normal_posted_balance
from mt_bridge.models import MirroredDeal, TradingAccount
from mt_bridge.records import DealAction, DealEntry

TRADES = (int(DealAction.BUY), int(DealAction.SELL))
CLOSING = (int(DealEntry.OUT), int(DealEntry.INOUT), int(DealEntry.OUT_BY))
LOCK_KEY = 0x616E616C79
"""PostgreSQL advisory lock held by a recompute for its transaction ("analy")."""
TIMESTAMP = DateTime(timezone=True)


@dataclass(frozen=True)
class RecomputeResult:
    clients: int
    computed_at: datetime


def _converted(conversion: Conversion, source: Select[Any], label: str) -> Any:
    """``source`` yields (client_id, currency, amount); the result, one converted total per client."""
    per_currency = source.subquery()
    return (
        select(
            per_currency.c.client_id,
            func.sum(conversion.apply(per_currency.c.amount, per_currency.c.currency)).label(label),
        )
        .group_by(per_currency.c.client_id)
        .subquery(label)
    )


def _by_currency(client: Any, currency: Any, amount: Any, *where: Any) -> Select[Any]:
    return (
        select(client.label("client_id"), currency.label("currency"), func.sum(amount).label("amount"))
        .where(*where)
        .group_by(client, currency)
    )


def _balances() -> Select[Any]:
    """Wallet and live trading-account balances per client and currency."""
    wallets = select(
        cast(Account.owner_id, BigInteger).label("client_id"),
        Account.currency.label("currency"),
        credit_normal_posted_balance().label("amount"),
    ).where(Account.owner_kind == "client", Account.purpose == str(Purpose.CLIENT_WALLET))
    trading = select(
        TradingAccount.client_id.label("client_id"),
        TradingAccount.currency.label("currency"),
        TradingAccount.balance.label("amount"),
    ).where(TradingAccount.is_demo.is_(False), TradingAccount.login.is_not(None))
    both = union_all(wallets, trading).subquery("balance_rows")
    return _by_currency(both.c.client_id, both.c.currency, both.c.amount)


def _lots_e8(volume: Any) -> Any:
    """A text column of decimal lots as an integer of 10⁻⁸ lot (exact: the text has at most 8 places)."""
    return cast(func.round(cast(volume, Numeric) * literal(10**LOTS_SCALE)), BigInteger)


def _deals() -> Any:
    closing = MirroredDeal.entry.in_(CLOSING)
    return (
        select(
            TradingAccount.client_id.label("client_id"),
            func.count(case((closing, 1))).label("closing_deals"),
            func.coalesce(func.sum(case((closing, _lots_e8(MirroredDeal.volume)), else_=0)), 0).label(
                "lots_e8"
            ),
            func.max(MirroredDeal.time).label("last_trade_at"),
        )
        .select_from(MirroredDeal)
        .join(
            TradingAccount,
            and_(
                TradingAccount.server_id == MirroredDeal.server_id, TradingAccount.login == MirroredDeal.login
            ),
        )
        .where(
            MirroredDeal.action.in_(TRADES),
            MirroredDeal.deleted.is_(False),
            TradingAccount.is_demo.is_(False),
        )
        .group_by(TradingAccount.client_id)
        .subquery("deals")
    )


def _later(dialect: str, *moments: Any) -> Any:
    """The latest of non-null timestamps (PostgreSQL's GREATEST; SQLite's many-argument max)."""
    if dialect == "postgresql":
        return func.greatest(*moments, type_=TIMESTAMP)
    return func.max(*moments, type_=TIMESTAMP)


def metrics_select(
    conversion: Conversion, config: AnalyticsSettings, now: datetime, dialect: str
) -> Select[Any]:
    """One row per client in :class:`ClientMetrics` column order."""
    deposited = _converted(
        conversion,
        _by_currency(
            Deposit.client_id,
            Deposit.currency,
            func.coalesce(Deposit.credited_amount, Deposit.amount),
            Deposit.status == DepositStatus.CREDITED,
        ),
        "deposited",
    )
    withdrawn = _converted(
        conversion,
        _by_currency(
            Withdrawal.client_id,
            Withdrawal.currency,
            Withdrawal.amount,
            Withdrawal.status == WithdrawalStatus.PAID,
        ),
        "withdrawn",
    )
    commissions = _converted(
        conversion,
        _by_currency(CommissionLine.trader_client_id, CommissionLine.currency, CommissionLine.amount),
        "commissions",
    )
    balance = _converted(conversion, _balances(), "balance")
    deals = _deals()
    base = (
        select(
            User.id.label("client_id"),
            func.coalesce(deposited.c.deposited, 0).label("deposited"),
            func.coalesce(withdrawn.c.withdrawn, 0).label("withdrawn"),
            func.coalesce(balance.c.balance, 0).label("balance"),
            func.coalesce(deals.c.closing_deals, 0).label("closing_deals"),
            func.coalesce(deals.c.lots_e8, 0).label("lots_e8"),
            func.coalesce(commissions.c.commissions, 0).label("commissions"),
            deals.c.last_trade_at,
            User.last_login_at.label("last_login_at"),
            _later(
                dialect,
                func.coalesce(deals.c.last_trade_at, User.created_at),
                func.coalesce(User.last_login_at, User.created_at),
                User.created_at,
            ).label("last_activity_at"),
            deposited.c.client_id.is_not(None).label("funded"),
        )
        .select_from(User)
        .outerjoin(deposited, deposited.c.client_id == User.id)
        .outerjoin(withdrawn, withdrawn.c.client_id == User.id)
        .outerjoin(balance, balance.c.client_id == User.id)
        .outerjoin(deals, deals.c.client_id == User.id)
        .outerjoin(commissions, commissions.c.client_id == User.id)
        .where(User.kind == CLIENT)
        .subquery("base")
    )
    net = base.c.deposited - base.c.withdrawn
    tier = case(
        *(
            (or_(net >= t.min_net_deposits, base.c.lots_e8 >= t.min_lots * 10**LOTS_SCALE), literal(t.code))
            for t in reversed(config.tiers)
        ),
        else_=literal(STANDARD),
    )
    cutoff = now - timedelta(days=config.inactive_days)
    churn = case(
        (
            and_(
                base.c.funded,
                base.c.last_activity_at <= literal(cutoff, TIMESTAMP),
                base.c.balance >= config.churn_min_balance,
            ),
            True,
        ),
        else_=false(),
    )
    return select(
        base.c.client_id,
        literal(REPORT_CURRENCY).label("currency"),
        base.c.deposited,
        base.c.withdrawn,
        net.label("net_deposits"),
        base.c.balance,
        base.c.closing_deals,
        base.c.lots_e8,
        base.c.commissions,
        base.c.last_trade_at,
        base.c.last_login_at,
        base.c.last_activity_at,
        base.c.funded,
        churn.label("churn_risk"),
        tier.label("value_tier"),
        literal(now, TIMESTAMP).label("computed_at"),
    )


COLUMNS = (
    "client_id",
    "currency",
    "deposited",
    "withdrawn",
    "net_deposits",
    "balance",
    "closing_deals",
    "lots_e8",
    "commissions",
    "last_trade_at",
    "last_login_at",
    "last_activity_at",
    "funded",
    "churn_risk",
    "value_tier",
    "computed_at",
)


async def _report_conversion(session: AsyncSession, now: datetime) -> Conversion:
    codes = list(await session.scalars(select(Currency.code)))
    codes += list(await session.scalars(select(TradingAccount.currency).distinct()))
    return await conversion_to(session, REPORT_CURRENCY, codes, now)


async def recompute_in(session: AsyncSession, now: datetime) -> RecomputeResult:
    """Replace every client's figures, inside the caller's transaction."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    config = await load_settings(session)
    conversion = await _report_conversion(session, now)
    await session.execute(delete(ClientMetrics))
    await session.execute(
        insert(ClientMetrics).from_select(list(COLUMNS), metrics_select(conversion, config, now, dialect))
    )
    count = await session.scalar(select(func.count()).select_from(ClientMetrics))
    return RecomputeResult(int(count or 0), now)


async def recompute_client_metrics(db: Database) -> RecomputeResult:
    """The scheduled job's work: every client's figures as of now, in one transaction.

    It reads (settings, rates) before it writes, so on SQLite it takes the write lock at ``BEGIN``
    (:func:`ib.sessions.posting_session`) and queues behind other writers instead of failing."""
    async with posting_session(db) as session:
        return await recompute_in(session, clock.utcnow())
