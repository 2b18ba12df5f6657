"""Rows the risk rules read, written directly: clients, money, sign-ins, documents, deals, IB links.

The rules only read these tables, so the tests seed exactly the situation each rule must (or must
not) see, at times relative to ``NOW``.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from cashier.models import Deposit, DepositStatus, Withdrawal, WithdrawalStatus
from core import clock
from core.db import Database
from core.identity.models import CLIENT, LoginSession, User
from ib.models import ClientLink, Partner
from kyc.models import DocumentKind, DocumentSide, KycDocument
from mt_bridge.models import (
    MirroredDeal,
    TradingAccount,
    TradingAccountStatus,
)
from mt_bridge.records import DealEntry
from tests.products import add_product
from tests.profiles import profile_row

NOW = clock.utcnow().replace(microsecond=0)
"""The tests' "now": rules run at the real time, so defaults written by the database agree."""
HOUR = timedelta(hours=1)
_counter = itertools.count(1)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


@dataclass
class RiskWorld:
    db: Database
    server_id: int = 0
    account_type_id: int = 0
    logins: dict[int, list[int]] = field(default_factory=dict)

    async def setup(self) -> RiskWorld:
        async with self.db.transaction() as session:
            product = await add_product(
                session,
                server_name=f"risk-{next(_counter)}",
                group_name="real\\usd",
                codes=((f"std-{next(_counter)}", "Standard"),),
            )
            server, kind = product.server, product.account_type
            self.server_id, self.account_type_id = server.id, kind.id
        return self

    async def user(self, email: str, kind: str = CLIENT) -> int:
        async with self.db.transaction() as session:
            user = User(kind=kind, email=email, password_hash="x", created_at=ago(days=60))
            session.add(user)
            await session.flush()
            return user.id

    async def client(self, name: str) -> int:
        return await self.user(f"{name}@risk.test")

    async def account(self, client_id: int, *, demo: bool = False) -> int:
        login = 700_000 + next(_counter)
        async with self.db.transaction() as session:
            session.add(
                TradingAccount(
                    client_id=client_id,
                    server_id=self.server_id,
                    account_type_id=self.account_type_id,
                    login=login,
                    group_name="real\\usd",
                    currency="USD",
                    leverage=100,
                    is_demo=demo,
                    status=TradingAccountStatus.ACTIVE,
                )
            )
        self.logins.setdefault(client_id, []).append(login)
        return login

    async def trade(
        self,
        login: int,
        *,
        opened: datetime,
        closed: datetime | None,
        lots: str = "1",
        synced_at: datetime | None = None,
    ) -> int:
        """A position opened (IN) and, when ``closed`` is given, closed (OUT) with the same volume."""
        position = next(_counter) + 9_000_000
        legs = [(DealEntry.IN, opened, 0)] + ([(DealEntry.OUT, closed, 1)] if closed else [])
        async with self.db.transaction() as session:
            for entry, moment, action in legs:
                ticket = next(_counter) + 1_000_000
                session.add(
                    MirroredDeal(
                        server_id=self.server_id,
                        ticket=ticket,
                        login=login,
                        order=ticket,
                        position_id=position,
                        action=action,
                        entry=int(entry),
                        symbol="EURUSD",
                        raw_symbol="EURUSD",
                        volume=Decimal(lots),
                        volume_closed=Decimal(lots) if entry == DealEntry.OUT else Decimal(0),
                        price=Decimal("1.1"),
                        profit=0,
                        commission=0,
                        swap=0,
                        fee=0,
                        currency_digits=2,
                        time=moment,
                        time_msc=int(moment.timestamp() * 1000),
                        comment="",
                        synced_at=synced_at or NOW - timedelta(minutes=10),
                    )
                )
        return position

    async def deposit(
        self,
        client_id: int,
        amount: int,
        at: datetime,
        *,
        method: str = "psp",
        psp: str | None = "sandbox",
        status: DepositStatus = DepositStatus.CREDITED,
        currency: str = "USD",
    ) -> int:
        async with self.db.transaction() as session:
            row = Deposit(
                client_id=client_id,
                method=method,
                psp=psp if method == "psp" else None,
                currency=currency,
                amount=amount,
                credited_amount=amount if status == DepositStatus.CREDITED else None,
                status=status,
                idempotency_key=f"dep-{next(_counter)}",
                created_at=at,
                updated_at=at,
            )
            session.add(row)
            await session.flush()
            return row.id

    async def withdrawal(
        self,
        client_id: int,
        amount: int,
        at: datetime,
        *,
        destination: str = "psp",
        psp: str | None = "sandbox",
        status: WithdrawalStatus = WithdrawalStatus.PENDING_APPROVAL,
    ) -> int:
        async with self.db.transaction() as session:
            row = Withdrawal(
                client_id=client_id,
                currency="USD",
                amount=amount,
                status=status,
                destination_kind=destination,
                bank_account_id=1 if destination == "bank_account" else None,
                psp=psp if destination == "psp" else None,
                idempotency_key=f"wd-{next(_counter)}",
                due_at=at + 48 * HOUR,
                created_at=at,
                updated_at=at,
            )
            session.add(row)
            await session.flush()
            return row.id

    async def sign_in(self, user_id: int, at: datetime, *, ip: str = "", device: str | None = None) -> None:
        async with self.db.transaction() as session:
            session.add(
                LoginSession(
                    id=f"s{next(_counter)}",
                    user_id=user_id,
                    app="portal",
                    ip=ip,
                    device_hash=hashlib.sha256(device.encode()).hexdigest() if device else None,
                    created_at=at,
                    last_seen_at=at,
                )
            )

    async def document(
        self, client_id: int, content: bytes, at: datetime, kind: DocumentKind = DocumentKind.PASSPORT
    ) -> int:
        async with self.db.transaction() as session:
            row = KycDocument(
                client_id=client_id,
                kind=kind,
                side=DocumentSide.FRONT,
                content_type="image/png",
                size_bytes=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                storage_key=f"k{next(_counter)}",
                original_name="id.png",
                uploaded_at=at,
            )
            session.add(row)
            await session.flush()
            return row.id

    async def profile(self, client_id: int, tin: str, country: str, at: datetime, version: int = 1) -> None:
        async with self.db.transaction() as session:
            session.add(
                profile_row(
                    client_id,
                    country,
                    version=version,
                    first_name="Test",
                    last_name=f"Client{client_id}",
                    address_line="1 Street",
                    phone="+100000",
                    tin=tin,
                    created_at=at,
                )
            )

    async def partner(self, client_id: int) -> int:
        async with self.db.transaction() as session:
            row = Partner(client_id=client_id, since=ago(days=90))
            session.add(row)
            await session.flush()
            return row.id

    async def attribute(
        self, client_id: int, partner_id: int, since: datetime, until: datetime | None = None
    ) -> None:
        async with self.db.transaction() as session:
            session.add(
                ClientLink(
                    client_id=client_id,
                    partner_id=partner_id,
                    valid_from=since,
                    valid_to=until,
                    source="staff",
                    created_by="test",
                )
            )


async def risk_world(db: Database) -> RiskWorld:
    return await RiskWorld(db).setup()
