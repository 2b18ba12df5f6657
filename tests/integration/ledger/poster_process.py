"""A stand-alone poster for the kill-mid-batch test: posts one large batch, then exits.

Run as ``python -m tests.integration.ledger.poster_process URL PREFIX COUNT DEBIT CREDIT...``.
It names its connection so the test can watch it in ``pg_stat_activity`` and kill it mid-COPY.
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy.ext.asyncio import create_async_engine

from core.db import Database
from ledger import posting
from ledger.requests import Journal, posted

APPLICATION_NAME = "ledger-kill-test"
AMOUNT = 3


def batch(prefix: str, count: int, debit: int, credits: list[int]) -> list[Journal]:
    return [
        Journal(
            [
                posted(
                    f"{prefix}:{n}",
                    debit=debit,
                    credit=credits[n % len(credits)],
                    amount=AMOUNT,
                    currency="USD",
                )
            ]
        )
        for n in range(count)
    ]


async def main(url: str, prefix: str, count: int, debit: int, credits: list[int]) -> None:
    engine = create_async_engine(
        url, connect_args={"server_settings": {"application_name": APPLICATION_NAME}}
    )
    db = Database(engine)
    try:
        results = await posting.post(db, batch(prefix, count, debit, credits))
        print("posted", sum(r.ok for r in results), flush=True)
    finally:
        await db.dispose()


if __name__ == "__main__":
    url, prefix, count, debit, *credits = sys.argv[1:]
    asyncio.run(main(url, prefix, int(count), int(debit), [int(c) for c in credits]))
