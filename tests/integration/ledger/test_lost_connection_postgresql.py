"""Posting skips the pool's pre-ping, so it must survive a pooled connection the server dropped.

PostgreSQL only: SQLite has no pool (every connection is fresh) and no server to drop one.
"""

from __future__ import annotations

import asyncpg
import pytest

from core.db import Database
from ledger import posting
from ledger.reading import get_balance
from ledger.requests import Journal, posted
from tests.conftest import BACKEND
from tests.integration.ledger.conftest import Book, count_rows

pytestmark = pytest.mark.skipif(BACKEND != "postgresql", reason="needs a server that drops connections")


async def test_post_retries_on_a_fresh_connection_after_the_server_dropped_the_pooled_one(
    book: Book, database_url: str
) -> None:
    pooled = Database.from_url(database_url, pool_size=2)
    try:

        def fund(key: str) -> list[Journal]:
            return [Journal([posted(key, debit=book.clearing, credit=book.alice, amount=40, currency="USD")])]

        [first] = await posting.post(pooled, fund("first"))
        assert first.ok
        assert pooled.unpinged_engine is not pooled.engine
        assert pooled.unpinged_engine.pool.checkedin() == 1  # type: ignore[attr-defined]

        admin = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            dropped = await admin.fetchval(
                "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()) AS terminated"
            )
        finally:
            await admin.close()
        assert dropped >= 1

        [second] = await posting.post(pooled, fund("second"))
        assert second.ok
        assert not second.replayed
        [again] = await posting.post(pooled, fund("second"))
        assert again.replayed
        assert again.transfer_id == second.transfer_id
    finally:
        await pooled.dispose()
    assert (await get_balance(book.db, book.alice)).posted == 80
    assert await count_rows(book.db, "transfers") == 2
