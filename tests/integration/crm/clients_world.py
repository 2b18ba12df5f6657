"""A small client base for the client list and 360 tests, built through the real services.

Staff: an admin (sees all), Alice (own scope), Bob and Carol (team ``east``), a read-only reader
and someone with no role. Clients:

- Anna: KYC approved, low risk, Germany (her first profile said Austria and ``Muller``), funded by
  wire (1,000.00 USD), a trading account 700001 with 25 deals, tag VIP, owned by Alice;
- Li: KYC submitted, high risk, China, referred by the IB ``Ivy`` (code GOLDEN), owned by Bob;
- Ivy: an IB under the IB ``Tom``, owned by Carol;
- Tom: a top-level IB, unassigned;
- Sam: nothing at all, unassigned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from core.audit.service import SYSTEM
from core.db import Database
from core.identity.models import LoginSession, User
from core.settings import Settings
from core.storage import EncryptedFileStore
from crm import tags
from crm.assignment import assign_client, set_data_scope
from ib import partners, schemes
from ib.attribution import create_link, reassign_client
from ib.hierarchy import move_partner
from kyc.models import CaseStatus, KycCase, KycLevel, KycProfileVersion, RiskLevel
from mt_bridge.models import (
    MirroredDeal,
    TradingAccount,
    TradingAccountStatus,
)
from tests.helpers import make_client, make_staff, staff_sign_in
from tests.integration.cashier.conftest import fund_by_wire
from tests.products import add_product
from tests.profiles import profile_row

T0 = datetime(2026, 10, 1, tzinfo=UTC)
LOGIN = 700001
DEALS = 25


@dataclass
class Person:
    id: int
    email: str
    secret: str | None = None


@dataclass
class ClientsWorld:
    admin: Person
    alice: Person
    bob: Person
    carol: Person
    reader: Person
    nobody: Person
    anna: int
    li: int
    ivy: int
    tom: int
    sam: int
    vip: int
    ivy_partner: int
    tom_partner: int

    @property
    def all_clients(self) -> set[int]:
        return {self.anna, self.li, self.ivy, self.tom, self.sam}


def _profile(
    client_id: int, version: int, first: str, last: str, country: str, phone: str
) -> KycProfileVersion:
    return profile_row(
        client_id,
        country,
        version=version,
        first_name=first,
        last_name=last,
        birth_date=date(1990, 5, 17),
        address_line="1 Main Street",
        postal_code="10115",
        phone=phone,
        tin="T-1",
    )


async def build(db: Database, settings: Settings, tmp_path: Path) -> ClientsWorld:
    staff: dict[str, Person] = {}
    for name, roles in (
        ("admin", ["admin"]),
        ("alice", ["support"]),
        ("bob", ["support"]),
        ("carol", ["support"]),
        ("reader", ["read_only"]),
        ("nobody", []),
    ):
        email = f"{name}@staff.test"
        user_id, secret = await make_staff(db, settings, email, roles)
        staff[name] = Person(user_id, email, secret)
    anna = await make_client(db, settings, "anna@client.example")
    li = await make_client(db, settings, "li@client.example")
    ivy = await make_client(db, settings, "ivy@partner.example")
    tom = await make_client(db, settings, "tom@partner.example")
    sam = await make_client(db, settings, "sam@client.example")
    async with db.transaction() as session:
        session.add_all(
            [
                _profile(anna, 1, "Anna", "Muller", "AT", "+431234567"),
                _profile(anna, 2, "Anna", "Schmidt", "DE", "+491701234567"),
                _profile(li, 1, "Li", "Wei", "CN", "+8613800138000"),
                KycCase(
                    client_id=anna,
                    status=CaseStatus.APPROVED,
                    level=KycLevel.FULL,
                    risk_level=RiskLevel.LOW,
                    risk_reasons=[],
                ),
                KycCase(
                    client_id=li,
                    status=CaseStatus.SUBMITTED,
                    level=KycLevel.NONE,
                    risk_level=RiskLevel.HIGH,
                    risk_reasons=["country"],
                    submitted_at=T0,
                ),
            ]
        )
        product = await add_product(session, login_range_start=700000)
        server, group, account_type = product.server, product.group, product.account_type
        session.add(
            TradingAccount(
                client_id=anna,
                server_id=server.id,
                account_type_id=account_type.id,
                login=LOGIN,
                group_name=group.name,
                currency="USD",
                leverage=100,
                status=TradingAccountStatus.ACTIVE,
                balance=50_000,
                equity=51_250,
                synced_at=T0,
            )
        )
        for n in range(DEALS):
            session.add(
                MirroredDeal(
                    server_id=server.id,
                    ticket=9000 + n,
                    login=LOGIN,
                    order=8000 + n,
                    position_id=7000 + n,
                    action=0,
                    entry=0,
                    symbol="EURUSD",
                    raw_symbol="EURUSD",
                    volume=Decimal("0.10"),
                    volume_closed=Decimal("0"),
                    price=Decimal("1.08"),
                    profit=100 * n,
                    commission=0,
                    swap=0,
                    fee=0,
                    currency_digits=2,
                    time=T0 + timedelta(minutes=n),
                    time_msc=0,
                    comment="",
                )
            )
        session.add(
            LoginSession(
                id="s-anna-1",
                user_id=anna,
                app="portal",
                ip="203.0.113.9",
                user_agent="Firefox",
                created_at=T0,
                last_seen_at=T0,
            )
        )
        scheme = await schemes.create_scheme(session, "Standard", currency="USD", actor="staff:1", now=T0)
        top = await partners.make_partner(
            session, tom, scheme_id=scheme.id, rank_code=None, actor="staff:1", now=T0
        )
        sub = await partners.make_partner(
            session, ivy, scheme_id=scheme.id, rank_code=None, actor="staff:1", now=T0
        )
        await move_partner(
            session,
            sub.id,
            top.id,
            effective_from=T0 + timedelta(seconds=1),
            actor="staff:1",
            now=T0,
            reason="setup",
        )
        await create_link(session, sub.id, actor="staff:1", now=T0, code="GOLDEN")
        await reassign_client(session, li, sub.id, effective_from=T0, reason="setup", actor="staff:1", now=T0)
        await set_data_scope(session, SYSTEM, staff["alice"].id, "own", "")
        await set_data_scope(session, SYSTEM, staff["bob"].id, "team", "east")
        await set_data_scope(session, SYSTEM, staff["carol"].id, "team", "east")
        await assign_client(session, SYSTEM, anna, staff["alice"].id)
        await assign_client(session, SYSTEM, li, staff["bob"].id)
        await assign_client(session, SYSTEM, ivy, staff["carol"].id)
        vip = await tags.create_tag(session, SYSTEM, "VIP", "#b45309")
        await tags.tag_client(session, SYSTEM, anna, vip.id)
        top_id, sub_id, vip_id = top.id, sub.id, vip.id
    await fund_by_wire(db, EncryptedFileStore(tmp_path / "files", b"k" * 32), anna, 100_000)
    return ClientsWorld(
        admin=staff["admin"],
        alice=staff["alice"],
        bob=staff["bob"],
        carol=staff["carol"],
        reader=staff["reader"],
        nobody=staff["nobody"],
        anna=anna,
        li=li,
        ivy=ivy,
        tom=tom,
        sam=sam,
        vip=vip_id,
        ivy_partner=sub_id,
        tom_partner=top_id,
    )


@asynccontextmanager
async def signed_in(settings: Settings, db: Database, person: Person) -> AsyncIterator[AsyncTestClient[Any]]:
    """A browser on a fresh back-office app, signed in as ``person``."""
    from tests.apps import backoffice_app

    assert person.secret
    async with db.transaction() as session:  # a second sign-in within one TOTP step is allowed here
        user = await session.get(User, person.id)
        assert user is not None
        user.totp_last_step = 0
    async with AsyncTestClient(app=backoffice_app(settings, db)) as client:
        await staff_sign_in(client, person.email, person.secret)
        yield client
