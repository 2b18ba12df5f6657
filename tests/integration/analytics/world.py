"""Four clients with hand-worked figures, built at known times under the project's clock.

``NOW`` is frozen (``core.clock.utcnow``) for the whole test; each fact is placed relative to it.
Rates: EUR/USD 1.10 (so 1.00 EUR = 1.10 USD) and USD/JPY 150 (JPY has no minor units).
Thresholds are the defaults: churn after 30 days inactive with at least 100.00 USD; silver from
1,000.00 USD or 10 lots, gold 10,000.00 or 100 lots, vip 100,000.00 or 1,000 lots.

- **Anna** (registered 60 days ago, signed in 33 days ago):
  deposits credited 1,000.00 USD (a real wire, into her wallet) and 500.00 EUR (= 550.00 USD);
  a declined 300.00 USD deposit does not count; withdrawals paid 200.00 USD and 100.00 EUR
  (= 110.00 USD); a pending 50.00 USD one does not count. Net 1,550.00 - 310.00 = **1,240.00 USD**.
  Balance: wallet 1,000.00 USD + live account 500.00 USD = 1,500.00 USD. Deals on her live login:
  an opening 1.00 lot 40 days ago, closings of 1.00 lot (40 days ago) and 0.50 lot (35 days ago);
  a deleted 3.00-lot closing, a balance operation yesterday and 10 lots on a demo login do not
  count: **1.5 lots, 2 closing deals, last trade 35 days ago**. IB commissions on her deals:
  2 lots at 7.00 USD per lot = **14.00 USD**. Inactive 33 days (her sign-in), funded, balance over
  100.00: **churn risk**; net 1,240.00 >= 1,000.00: **silver**.
- **Bob** (registered 10 days ago, signed in yesterday): 20,000.00 USD credited, 120 lots closed
  2 days ago: **gold**, active, no churn risk. Commissions: 120 lots x 7.00 = 840.00 USD.
- **Cleo** (registered 60 days ago, never funded, never traded, never signed in): standard, not
  a churn risk (not funded), inactive 60 days.
- **Dan** (registered 90 days ago): 50.00 USD credited, nothing else: inactive 90 days but his
  balance (a 50.00 USD live account) is under 100.00: standard, no churn risk. Net 50.00 USD.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from cashier.models import Deposit, Withdrawal
from core import clock
from core.db import Database
from core.settings import Settings
from core.storage import EncryptedFileStore
from ib.engine import process_deals
from ledger.fx import record_rate
from mt_bridge.models import MirroredDeal, TradingAccount, TradingAccountStatus
from tests.apps import portal_app
from tests.helpers import client_sign_in, make_client
from tests.integration.cashier.conftest import fund_by_wire
from tests.integration.ib.world import SERVER, build_world, deal
from tests.products import add_product

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}
EMAILS = {
    "anna": "anna@figures.example",
    "bob": "bob@figures.example",
    "cleo": "cleo@figures.example",
    "dan": "dan@figures.example",
    "ivan": "ivan.ib@figures.example",
}


class Clock:
    """``core.clock.utcnow`` frozen at ``now``, movable with :meth:`at`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.frozen = self.now
        monkeypatch.setattr(clock, "utcnow", lambda: self.frozen)

    def ago(self, **delta: float) -> datetime:
        return self.now - timedelta(**delta)

    @contextmanager
    def at(self, moment: datetime) -> Iterator[None]:
        self.frozen = moment
        try:
            yield
        finally:
            self.frozen = self.now


@dataclass
class FiguresWorld:
    clock: Clock
    ids: dict[str, int]


def _deposit(client_id: int, currency: str, amount: int, status: str, key: str) -> Deposit:
    return Deposit(
        client_id=client_id,
        method="wire",
        currency=currency,
        amount=amount,
        credited_amount=amount if status == "credited" else None,
        status=status,
        idempotency_key=key,
    )


def _withdrawal(
    client_id: int, currency: str, amount: int, status: str, key: str, now: datetime
) -> Withdrawal:
    return Withdrawal(
        client_id=client_id,
        currency=currency,
        amount=amount,
        status=status,
        destination_kind="bank_account",
        idempotency_key=key,
        due_at=now,
    )


def _mirrored(
    server_id: int, ticket: int, login: int, lots: str, entry: int, at: datetime, **extra: object
) -> MirroredDeal:
    return MirroredDeal(
        server_id=server_id,
        ticket=ticket,
        login=login,
        order=ticket,
        position_id=ticket,
        action=int(extra.pop("action", 1)),  # a sell
        entry=entry,
        symbol="EURUSD",
        raw_symbol="EURUSD",
        volume=Decimal(lots),
        volume_closed=Decimal(lots) if entry else Decimal(0),
        price=Decimal("1.1"),
        profit=0,
        commission=0,
        swap=0,
        fee=0,
        currency_digits=2,
        time=at,
        time_msc=int(at.timestamp() * 1000),
        comment="",
        **extra,
    )


async def build(db: Database, settings: Settings, tmp_path: Path, frozen: Clock) -> FiguresWorld:
    ids: dict[str, int] = {}
    for name, days in (("anna", 60), ("bob", 10), ("cleo", 60), ("dan", 90), ("ivan", 100)):
        with frozen.at(frozen.ago(days=days)):
            ids[name] = await make_client(db, settings, EMAILS[name])
    anna, bob, dan = ids["anna"], ids["bob"], ids["dan"]
    async with db.transaction() as session:
        await record_rate(
            session,
            base="EUR",
            quote="USD",
            rate=Decimal("1.10"),
            spread=Decimal("0"),
            source="test",
            observed_at=frozen.ago(days=1),
        )
        await record_rate(
            session,
            base="USD",
            quote="JPY",
            rate=Decimal("150"),
            spread=Decimal("0"),
            source="test",
            observed_at=frozen.ago(days=1),
        )
        session.add_all(
            [
                _deposit(anna, "EUR", 500_00, "credited", "a-eur"),
                _deposit(anna, "USD", 300_00, "declined", "a-declined"),
                _deposit(bob, "USD", 20_000_00, "credited", "b-usd"),
                _deposit(dan, "USD", 50_00, "credited", "d-usd"),
                _withdrawal(anna, "USD", 200_00, "paid", "a-w-usd", frozen.now),
                _withdrawal(anna, "EUR", 100_00, "paid", "a-w-eur", frozen.now),
                _withdrawal(anna, "USD", 50_00, "pending_approval", "a-w-pending", frozen.now),
            ]
        )
        product = await add_product(session, login_range_start=810000)
        server_id = product.server.id

        def account(client_id: int, login: int, balance: int, *, demo: bool = False) -> TradingAccount:
            return TradingAccount(
                client_id=client_id,
                server_id=server_id,
                account_type_id=product.account_type.id,
                login=login,
                group_name=product.group.name,
                currency="USD",
                leverage=100,
                is_demo=demo,
                status=TradingAccountStatus.ACTIVE,
                balance=balance,
            )

        session.add_all(
            [
                account(anna, 810001, 500_00),
                account(anna, 810002, 0, demo=True),
                account(bob, 810003, 0),
                account(dan, 810004, 50_00),
            ]
        )
        session.add_all(
            [
                _mirrored(server_id, 1, 810001, "1.00", 0, frozen.ago(days=40)),
                _mirrored(server_id, 2, 810001, "1.00", 1, frozen.ago(days=40) + timedelta(hours=1)),
                _mirrored(server_id, 3, 810001, "0.50", 1, frozen.ago(days=35)),
                _mirrored(server_id, 4, 810001, "3.00", 1, frozen.ago(days=34), deleted=True),
                _mirrored(server_id, 5, 810001, "0", 0, frozen.ago(days=1), action=2),
                _mirrored(server_id, 6, 810002, "10.00", 1, frozen.ago(days=1)),
                _mirrored(server_id, 7, 810003, "120.00", 1, frozen.ago(days=2)),
            ]
        )
    await fund_by_wire(db, EncryptedFileStore(tmp_path / "files", b"k" * 32), anna, 1_000_00)
    await build_world(
        db,
        rules=[FIXED],
        ibs=[("I", ids["ivan"], None, None)],
        clients={anna: "I", bob: "I"},
        accounts={910001: (anna, "standard"), 910003: (bob, "standard")},
    )
    await process_deals(
        db,
        SERVER,
        [
            deal(9101, 910001, lots="1", time=frozen.ago(days=40)),
            deal(9102, 910001, lots="1", time=frozen.ago(days=35)),
            deal(9103, 910003, lots="120", time=frozen.ago(days=2)),
        ],
    )
    portal = portal_app(settings, db)
    for name, days in (("anna", 33), ("bob", 1)):
        with frozen.at(frozen.ago(days=days)):
            async with AsyncTestClient(app=portal) as browser:
                answer = await client_sign_in(browser, EMAILS[name])
                assert answer.status_code == 303, answer.text
    return FiguresWorld(frozen, ids)


Frozen = Callable[[], Clock]
