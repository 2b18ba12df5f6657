"""The ledger's invariants, checked on the whole database with plain SQL (not with ledger code)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import text

from core.db import Database


async def assert_ledger_invariants(db: Database) -> None:
    async with db.engine.connect() as connection:

        async def rows(sql: str) -> list[tuple[object, ...]]:
            return [tuple(row) for row in (await connection.execute(text(sql))).all()]

        # conservation: per currency, debits equal credits, posted and pending alike
        for currency, posted_net, pending_net in await rows(
            "SELECT currency, SUM(debits_posted) - SUM(credits_posted),"
            " SUM(debits_pending) - SUM(credits_pending) FROM accounts GROUP BY currency"
        ):
            assert (posted_net, pending_net) == (0, 0), f"{currency} does not balance"

        # every transfer has exactly one entry per side
        assert await rows("SELECT transfer_id FROM entries GROUP BY transfer_id HAVING COUNT(*) <> 2") == []
        [(transfers,)] = await rows("SELECT COUNT(*) FROM transfers")
        [(entries,)] = await rows("SELECT COUNT(*) FROM entries")
        assert entries == 2 * int(transfers)  # type: ignore[call-overload]

        accounts = {
            row[0]: row[1:]
            for row in await rows(
                "SELECT id, normal_side, debits_posted, credits_posted, debits_pending, credits_pending,"
                " version, debits_must_not_exceed_credits FROM accounts"
            )
        }
        sums: dict[object, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        last_version: dict[object, int] = defaultdict(int)
        balance: dict[object, int] = defaultdict(int)
        for account_id, version, side, posted, pending, balance_after in await rows(
            "SELECT account_id, version, side, posted_amount, pending_amount, balance_after FROM entries"
            " ORDER BY account_id, version"
        ):
            # entry chains are consecutive: 1, 2, 3, ...
            assert version == last_version[account_id] + 1, f"gap in the chain of account {account_id}"
            last_version[account_id] = int(version)  # type: ignore[call-overload]
            counters = sums[account_id]
            if side == "debit":
                counters[0] += posted  # type: ignore[operator]
                counters[2] += pending  # type: ignore[operator]
            else:
                counters[1] += posted  # type: ignore[operator]
                counters[3] += pending  # type: ignore[operator]
            credit_normal = accounts[account_id][0] == "credit"
            balance[account_id] = counters[1] - counters[0] if credit_normal else counters[0] - counters[1]
            # balance after each entry is the running sum of the history
            assert balance_after == balance[account_id], f"balance_after wrong on account {account_id}"
            if accounts[account_id][6]:
                assert balance_after >= 0, f"guarded account {account_id} went below zero"  # type: ignore[operator]

        for account_id, (_, dp, cp, dpe, cpe, version, guarded) in accounts.items():
            # counters equal the sum of history
            assert [dp, cp, dpe, cpe] == sums[account_id], f"counters of {account_id} differ from history"
            assert version == last_version[account_id]
            if guarded:
                assert dp + dpe <= cp, f"guarded account {account_id} overdrawn"  # type: ignore[operator]
