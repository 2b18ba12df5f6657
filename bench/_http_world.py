"""The broker bench/http_load.py loads, and the money checks it runs afterwards.

Seeded straight into a scratch PostgreSQL database: verified clients with full KYC and two live
trading accounts each on one MT5 server, and staff members with the admin role and TOTP enrolled.
After the load, :func:`money_invariants` reads the books the requests and the PSP's webhooks wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, case, cast, func, select

from bench._common import bulk, trading_product
from cashier.deposits import credit_key
from cashier.models import Deposit, DepositStatus
from core.audit.service import SYSTEM
from core.db import Database
from core.identity.models import CLIENT, User
from core.identity.passwords import hash_password
from core.identity.staff import create_staff
from core.identity.totp import new_secret
from core.settings import Settings
from kyc.models import KycCase
from ledger.chart import Purpose
from ledger.models import Account, Entry, Transfer
from ledger.reading import trial_balance
from mt_bridge.models import TradingAccount

PASSWORD = "Bench-Harbour-73!"  # noqa: S105 (throwaway people of a throwaway database)
FIRST_CLIENT_ID = 1_000
ACCOUNTS_PER_CLIENT = 2


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    totp_secret: str | None = None


def client_email(client_id: int) -> str:
    return f"client{client_id}@bench.example"


async def seed(
    db: Database, settings: Settings, clients: int, staff: int
) -> tuple[list[Person], list[Person]]:
    """``clients`` clients and ``staff`` admin staff members; answers both, with their logins."""
    now = datetime.now(UTC)
    hashed = await hash_password(settings, PASSWORD)  # one hash for all: sign-in is not measured
    ids = range(FIRST_CLIENT_ID, FIRST_CLIENT_ID + clients)
    await bulk(
        db,
        User,
        [
            {
                "id": i,
                "kind": CLIENT,
                "email": client_email(i),
                "display_name": f"Bench Client {i}",
                "password_hash": hashed,
                "language": "en",
                "email_verified_at": now,
                "created_at": now,
            }
            for i in ids
        ],
    )
    await bulk(
        db,
        KycCase,
        [
            {"client_id": i, "status": "approved", "level": "full", "risk_level": "low", "risk_reasons": []}
            for i in ids
        ],
    )
    async with db.transaction() as session:
        server_id, type_id = await trading_product(
            session, server="bench-live", group="real\\bench", first_login=5_000_000, leverages=[100, 200]
        )
    await bulk(
        db,
        TradingAccount,
        [
            {
                "client_id": i,
                "server_id": server_id,
                "account_type_id": type_id,
                "login": 5_000_000 + i * ACCOUNTS_PER_CLIENT + n,
                "group_name": "real\\bench",
                "currency": "USD",
                "leverage": 100,
                "status": "active",
                "balance": 100_000 * (n + 1),
                "equity": 100_000 * (n + 1),
            }
            for i in ids
            for n in range(ACCOUNTS_PER_CLIENT)
        ],
    )
    async with db.engine.connect() as connection:
        await connection.exec_driver_sql(f"SELECT setval('users_id_seq', {FIRST_CLIENT_ID + clients})")
        await connection.commit()
    members = []
    async with db.transaction() as session:
        for s in range(staff):
            user = await create_staff(
                session,
                settings,
                email=f"staff{s}@bench.example",
                display_name=f"Bench Staff {s}",
                password=PASSWORD,
                role_names=["admin"],
                actor=SYSTEM,
            )
            user.totp_secret = new_secret()
            members.append(Person(user.id, user.email, user.totp_secret))
    async with db.engine.connect() as connection:  # what autovacuum would do after such a load
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql("VACUUM ANALYZE")
    return [Person(i, client_email(i)) for i in ids], members


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


async def credited_count(db: Database, client_ids: list[int]) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Deposit)
            .where(Deposit.client_id.in_(client_ids), Deposit.status == DepositStatus.CREDITED)
        )
    return int(found or 0)


async def money_invariants(db: Database, used_keys: set[tuple[int, str]], paid: int) -> list[Check]:
    """Every money invariant, read from the books after the load."""
    checks: list[Check] = []
    async with db.session() as session:
        currencies = list(await session.scalars(select(Account.currency).distinct()))
        for currency in sorted(currencies):
            balance = await trial_balance(session, currency)
            checks.append(
                Check(
                    f"trial balance {currency}",
                    balance.balanced,
                    f"debits {balance.total_debits:,} credits {balance.total_credits:,} net {balance.net},"
                    f" pending {balance.pending_debits:,}/{balance.pending_credits:,}",
                )
            )
        e = Entry.__table__.c

        def side_sum(side: str, column: Any) -> Any:
            return func.coalesce(func.sum(case((e.side == side, column), else_=0)), 0)

        sums = (
            select(
                e.account_id,
                side_sum("debit", e.posted_amount).label("dp"),
                side_sum("debit", e.pending_amount).label("dpe"),
                side_sum("credit", e.posted_amount).label("cp"),
                side_sum("credit", e.pending_amount).label("cpe"),
            )
            .group_by(e.account_id)
            .subquery()
        )
        accounts_table = Account.__table__
        a = accounts_table.c
        mismatched = (
            await session.execute(
                select(func.count())
                .select_from(accounts_table)
                .outerjoin(sums, sums.c.account_id == a.id)
                .where(
                    (func.coalesce(sums.c.dp, 0) != a.debits_posted)
                    | (func.coalesce(sums.c.dpe, 0) != a.debits_pending)
                    | (func.coalesce(sums.c.cp, 0) != a.credits_posted)
                    | (func.coalesce(sums.c.cpe, 0) != a.credits_pending)
                )
            )
        ).scalar_one()
        accounts = (await session.execute(select(func.count()).select_from(accounts_table))).scalar_one()
        checks.append(
            Check(
                "account counters = sum of their entries",
                mismatched == 0,
                f"{accounts} accounts, {mismatched} differ",
            )
        )
        credited = (
            select(
                Deposit.client_id,
                func.sum(Deposit.credited_amount - Deposit.fee_amount).label("expected"),
            )
            .where(Deposit.status == DepositStatus.CREDITED)
            .group_by(Deposit.client_id)
            .subquery()
        )
        wallets = (
            await session.execute(
                select(
                    Account.owner_id,
                    (Account.credits_posted - Account.debits_posted).label("posted"),
                    func.coalesce(credited.c.expected, 0).label("expected"),
                )
                .outerjoin(credited, Account.owner_id == cast(credited.c.client_id, String))
                .where(Account.purpose == str(Purpose.CLIENT_WALLET), Account.owner_kind == "client")
            )
        ).all()
        wrong = [row for row in wallets if row.posted != row.expected]
        checks.append(
            Check(
                "wallet balance = credited deposits",
                not wrong,
                f"{len(wallets)} wallets, {len(wrong)} differ",
            )
        )
        duplicates = (
            await session.execute(
                select(func.count()).select_from(
                    select(Deposit.client_id, Deposit.idempotency_key)
                    .group_by(Deposit.client_id, Deposit.idempotency_key)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
        ).scalar_one()
        rows = set((await session.execute(select(Deposit.client_id, Deposit.idempotency_key))).all())
        missing = len(used_keys - rows)
        checks.append(
            Check(
                "one deposit per idempotency key",
                duplicates == 0 and missing == 0 and len(rows) == len(used_keys),
                f"{len(used_keys)} keys sent, {len(rows)} deposit rows, {duplicates} keys twice,"
                f" {missing} missing",
            )
        )
        credited_ids = list(
            await session.scalars(select(Deposit.id).where(Deposit.status == DepositStatus.CREDITED))
        )
        transfers = (
            await session.execute(
                select(func.count())
                .select_from(Transfer)
                .where(Transfer.idempotency_key.in_([credit_key(i) for i in credited_ids]))
            )
        ).scalar_one()
        checks.append(
            Check(
                "each paid deposit credited once",
                len(credited_ids) == paid == transfers,
                f"{paid} paid at the PSP, {len(credited_ids)} credited, {transfers} credit transfers",
            )
        )
    return checks
