"""A small world for the reports and the dashboard, and the figures they must show, worked out
here in Python from the same specifications the rows were made from (never read back from the
database the reports query).

Days are counted back from today (UTC); the default report range is the last 30 days, so specs
at 40 days or more fall outside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from cashier.models import Deposit, Withdrawal
from core.clock import utcnow
from core.db import Database
from core.identity.models import CLIENT, User
from core.storage import EncryptedFileStore
from kyc.models import CaseStatus, KycCase
from mt_bridge.models import (
    Command,
    CommandKind,
    CommandStatus,
    DifferenceKind,
    MirroredDeal,
    ReconciliationDifference,
    ReconciliationRun,
    SymbolGroup,
    TradingAccount,
    TradingAccountStatus,
    TradingSymbol,
)
from tests.integration.cashier.conftest import fund_by_wire
from tests.products import add_product
from tests.profiles import profile_row


def today() -> date:
    return utcnow().date()


def at(days_ago: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(today() - timedelta(days=days_ago), time(hour, minute), tzinfo=UTC)


def in_window(moment: datetime, first: date | None = None, last: date | None = None) -> bool:
    first = first or today() - timedelta(days=29)
    last = last or today()
    return first <= moment.date() <= last


# name: (registered days ago, [countries by profile version], kyc case)
# kyc case: (status, submitted (days ago, hour, minute), decided (days ago, hour, minute)) or None
CLIENTS: dict[
    str, tuple[int, list[str], tuple[str, tuple[int, int, int], tuple[int, int, int] | None] | None]
] = {
    "c1": (2, ["FR", "GB"], ("approved", (3, 10, 0), (3, 13, 30))),
    "c2": (5, ["GB"], ("approved", (6, 8, 0), (5, 8, 0))),
    "c3": (5, ["DE"], ("approved", (6, 9, 0), (6, 9, 45))),
    "c4": (10, ["DE"], ("submitted", (2, 10, 0), None)),
    "c5": (40, ["CN"], ("approved", (45, 10, 0), (45, 11, 0))),
    "c6": (1, [], None),
    "c7": (60, ["JP"], ("awaiting_second_review", (10, 10, 0), None)),
    "c8": (70, ["US"], ("rejected", (1, 10, 0), (1, 12, 0))),
}

# (client, days ago, method, psp, currency, amount, credited amount, status)
DEPOSITS = [
    ("c1", 3, "psp", "sandbox", "USD", 20_000, 20_000, "credited"),
    ("c4", 4, "psp", "sandbox", "USD", 5_000, 5_000, "credited"),
    ("c2", 4, "wire", None, "EUR", 30_000, 29_900, "credited"),
    ("c3", 4, "psp", "sandbox", "USD", 7_000, None, "declined"),
    ("c5", 45, "wire", None, "USD", 90_000, 90_000, "credited"),
    ("c2", 2, "wire", None, "USD", 1_000, None, "awaiting_review"),
]
WIRED_TODAY = [("c1", 1_000_000), ("c2", 50_000)]
"""Wires credited today through the real cashier service (proof uploaded, finance approves)."""

# (client, days ago, destination, psp, currency, amount, status)
WITHDRAWALS = [
    ("c1", 1, "bank_account", None, "USD", 15_000, "paid"),
    ("c2", 2, "psp", "sandbox", "EUR", 2_000, "paid"),
    ("c1", 1, "bank_account", None, "USD", 999, "pending_approval"),
    ("c5", 50, "bank_account", None, "USD", 100, "paid"),
]

# login: (client, demo)
ACCOUNTS = {7001: ("c1", False), 7002: ("c1", True), 7005: ("c5", False)}
UNKNOWN_LOGIN = 7999
SYMBOLS = {"EURUSD": "forex", "XAUUSD": "metals"}  # US30 has no symbol row at all

# (ticket, login, days ago, symbol, lots, action, deleted)
DEALS = [
    (1, 7001, 2, "EURUSD", "1.25", 0, False),
    (2, 7001, 2, "EURUSD", "1.25", 1, False),
    (3, 7001, 3, "XAUUSD", "0.10", 0, False),
    (4, 7002, 3, "EURUSD", "5", 0, False),
    (5, 7005, 4, "XAUUSD", "0.3", 1, False),
    (6, 7005, 4, "EURUSD", "2", 0, True),
    (7, UNKNOWN_LOGIN, 5, "US30", "0.01", 0, False),
    (8, 7001, 2, "", "0", 2, False),
    (9, 7005, 40, "EURUSD", "1", 0, False),
]

# (login, currency, ledger, server, kind)
DIFFERENCES = [(7005, "USD", 10_000, 12_500, "amount_mismatch")]


@dataclass
class Seeded:
    clients: dict[str, int] = field(default_factory=dict)
    server_id: int = 0
    server_name: str = "live-1"


def method_of(method: str, psp: str | None) -> str:
    return "wire" if method in ("wire", "bank_account") else f"psp:{psp}"


async def seed(db: Database, tmp_path: Path) -> Seeded:
    seeded = Seeded()
    async with db.transaction() as session:
        for name, (registered, _countries, _case) in CLIENTS.items():
            user = User(
                kind=CLIENT,
                email=f"{name}@example.test",
                password_hash="x",
                language="en",
                created_at=at(registered, 9),
            )
            session.add(user)
            await session.flush()
            seeded.clients[name] = user.id
        for name, (_registered, countries, case) in CLIENTS.items():
            client_id = seeded.clients[name]
            for version, country in enumerate(countries, start=1):
                session.add(
                    profile_row(
                        client_id,
                        country,
                        version=version,
                        first_name=name,
                        last_name="Tester",
                        address_line="1 Test Street",
                        phone="+10000000",
                        tin="T1",
                        created_at=at(30, 1),
                    )
                )
            if case is not None:
                status, submitted, decided = case
                session.add(
                    KycCase(
                        client_id=client_id,
                        status=CaseStatus(status),
                        submitted_at=at(*submitted),
                        decided_at=at(*decided) if decided else None,
                    )
                )
        for n, (name, days, method, psp, currency, amount, credited, status) in enumerate(DEPOSITS):
            session.add(
                Deposit(
                    client_id=seeded.clients[name],
                    method=method,
                    psp=psp,
                    psp_payment_id=f"pay-{n}" if psp else None,
                    currency=currency,
                    amount=amount,
                    credited_amount=credited,
                    status=status,
                    idempotency_key=f"seed-d-{n}",
                    created_at=at(days, 11),
                )
            )
        for n, (name, days, destination, psp, currency, amount, status) in enumerate(WITHDRAWALS):
            session.add(
                Withdrawal(
                    client_id=seeded.clients[name],
                    currency=currency,
                    amount=amount,
                    status=status,
                    destination_kind=destination,
                    psp=psp,
                    idempotency_key=f"seed-w-{n}",
                    due_at=at(days - 2, 11),
                    created_at=at(days, 12),
                )
            )
        product = await add_product(session, server_name=seeded.server_name, login_range_start=7000)
        server, group, account_type = product.server, product.group, product.account_type
        seeded.server_id = server.id
        for login, (name, demo) in ACCOUNTS.items():
            session.add(
                TradingAccount(
                    client_id=seeded.clients[name],
                    server_id=server.id,
                    account_type_id=account_type.id,
                    login=login,
                    group_name=group.name,
                    currency="USD",
                    leverage=100,
                    is_demo=demo,
                    status=TradingAccountStatus.ACTIVE,
                )
            )
        for symbol, group_name in SYMBOLS.items():
            symbol_group = SymbolGroup(name=group_name)
            session.add(symbol_group)
            await session.flush()
            session.add(
                TradingSymbol(
                    name=symbol, symbol_group_id=symbol_group.id, contract_size=Decimal(100000), digits=5
                )
            )
        for ticket, login, days, symbol, lots, action, deleted in DEALS:
            moment = at(days, 14)
            session.add(
                MirroredDeal(
                    server_id=server.id,
                    ticket=ticket,
                    login=login,
                    order=ticket,
                    position_id=ticket,
                    action=action,
                    entry=0,
                    symbol=symbol,
                    raw_symbol=symbol,
                    volume=Decimal(lots),
                    volume_closed=Decimal(0),
                    price=Decimal("1.1"),
                    profit=0,
                    commission=0,
                    swap=0,
                    fee=0,
                    currency_digits=2,
                    time=moment,
                    time_msc=int(moment.timestamp() * 1000),
                    comment="",
                    deleted=deleted,
                )
            )
        run = ReconciliationRun(server_id=server.id, started_at=at(1, 6), compared=2, difference_count=1)
        session.add(run)
        await session.flush()
        for login, currency, ledger_balance, server_balance, kind in DIFFERENCES:
            session.add(
                ReconciliationDifference(
                    run_id=run.id,
                    server_id=server.id,
                    login=login,
                    currency=currency,
                    ledger_balance=ledger_balance,
                    server_balance=server_balance,
                    kind=DifferenceKind(kind),
                )
            )
        session.add(
            Command(
                server_id=server.id,
                kind=CommandKind.CREATE_ACCOUNT,
                status=CommandStatus.AWAITING_APPROVAL,
                payload={},
                created_at=at(3, 8),
            )
        )
        session.add(
            Command(
                server_id=server.id,
                kind=CommandKind.BALANCE_OPERATION,
                status=CommandStatus.FAILED,
                payload={},
                last_error="refused",
                updated_at=at(2, 8),
            )
        )
    store = EncryptedFileStore(tmp_path / "seed-files", b"k" * 32)
    for name, amount in WIRED_TODAY:
        await fund_by_wire(db, store, seeded.clients[name], amount, "USD", key=f"seed-wire-{name}")
    return seeded
