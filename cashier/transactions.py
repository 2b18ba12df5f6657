"""One transaction for a cashier change and the ledger posting that goes with it.

The request row, its status, the audit event and the ledger transfer commit together or not at
all. The connection comes from :func:`ledger.posting.write_transaction`, so SQLite takes its write
lock at ``BEGIN`` (no lock upgrade can fail half-way) and PostgreSQL rows are locked explicitly.
No network call is ever made inside one of these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.wallets import wallet_account
from core.db import Database
from core.db.after_commit import session_on
from ledger.posting import write_transaction
from ledger.storage import accounts_table


@asynccontextmanager
async def money_transaction(db: Database) -> AsyncIterator[AsyncSession]:
    """A session on a write transaction; commits when the block ends without an error. Jobs
    enqueued in it leave once the transaction has committed, as from any other session."""
    async with session_on(write_transaction(db)) as session:
        yield session


DEPOSITS_LOCK_CLASS = 0x0CA5_0D00
"""First key of the advisory lock on one client's deposits (the second is the client's id)."""


async def lock_client_deposits(session: AsyncSession, client_id: int) -> None:
    """Serialise one client's deposit requests and wire approvals, in every currency (PostgreSQL
    advisory lock held to the end of the transaction; SQLite already holds its write lock).

    The KYC limit sums the client's deposits in all currencies, which no one wallet's lock covers:
    a USD and a EUR request at once would each miss the other. Taken before the wallet's lock.
    """
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:class_key, :client_id)"),
            {"class_key": DEPOSITS_LOCK_CLASS, "client_id": client_id},
        )


async def lock_accounts(session: AsyncSession, *account_ids: int) -> None:
    """Serialise requests on client wallets (PostgreSQL ``FOR UPDATE``, in id order; SQLite already
    holds its lock).

    Taken before a limit is summed, so two concurrent requests can't both fit under a daily limit,
    and before anything is posted: every cashier transaction locks the client's wallets first and
    the house accounts after (posting locks those), so no two of them wait on each other in a ring.
    """
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(
            select(accounts_table.c.id)
            .where(accounts_table.c.id.in_(account_ids))
            .order_by(accounts_table.c.id)
            .with_for_update()
        )


async def locked_wallet(session: AsyncSession, client_id: int, currency: str) -> int:
    """The client's wallet in ``currency``, locked (see :func:`lock_accounts`)."""
    wallet = await wallet_account(session, client_id, currency)
    await lock_accounts(session, wallet)
    return wallet
