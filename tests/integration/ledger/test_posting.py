"""The posting path: counters, entries, journals all-or-nothing, idempotency, pending and reversals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger import posting
from ledger.errors import InvalidBatchError
from ledger.expiry import expire_due_pending
from ledger.reading import get_balance
from ledger.requests import (
    MAX_AMOUNT,
    Journal,
    Refusal,
    TransferKind,
    TransferRequest,
    expire_pending,
    pending,
    post_pending,
    posted,
    reversal,
    void_pending,
)
from tests.integration.ledger.conftest import Book, count_rows, deposit


async def test_posted_transfer_moves_counters_and_writes_one_entry_per_side(book: Book) -> None:
    transfer_id = await deposit(book, "dep-1", book.alice, 10_000)
    alice = await get_balance(book.db, book.alice)
    clearing = await get_balance(book.db, book.clearing)
    assert (alice.posted, alice.available) == (10_000, 10_000)
    assert clearing.posted == 10_000  # debit-normal asset
    async with book.db.engine.connect() as connection:
        entries = (
            await connection.execute(
                text(
                    "SELECT account_id, side, posted_amount, pending_amount, balance_after, version"
                    " FROM entries WHERE transfer_id = :t ORDER BY side"
                ),
                {"t": transfer_id},
            )
        ).all()
    assert [tuple(row) for row in entries] == [
        (book.alice, "credit", 10_000, 0, 10_000, 1),
        (book.clearing, "debit", 10_000, 0, 10_000, 1),
    ]


async def test_a_journal_that_fails_leaves_no_trace(book: Book) -> None:
    await deposit(book, "dep-1", book.alice, 1_000)
    before = {table: await count_rows(book.db, table) for table in ("transfers", "entries")}
    results = await posting.post(
        book.db,
        [
            Journal(
                [
                    posted("j-1", debit=book.alice, credit=book.bob, amount=600, currency="USD"),
                    posted("j-2", debit=book.alice, credit=book.bob, amount=600, currency="USD"),
                ]
            ),
            Journal([posted("j-3", debit=book.alice, credit=book.bob, amount=400, currency="USD")]),
        ],
    )
    assert [r.refusal for r in results] == [Refusal.JOURNAL_FAILED, Refusal.INSUFFICIENT_FUNDS, None]
    assert (await get_balance(book.db, book.alice)).posted == 600
    assert (await get_balance(book.db, book.bob)).posted == 400
    after = {table: await count_rows(book.db, table) for table in ("transfers", "entries")}
    assert after == {
        "transfers": before["transfers"] + 1,
        "entries": before["entries"] + 2,
    }
    async with book.db.engine.connect() as connection:
        keys = (
            (
                await connection.execute(
                    text("SELECT idempotency_key FROM transfers WHERE idempotency_key LIKE 'j-%'")
                )
            )
            .scalars()
            .all()
        )
    assert keys == ["j-3"]


async def test_same_key_same_content_returns_the_original_result(book: Book) -> None:
    journal = Journal([posted("dep-1", debit=book.clearing, credit=book.alice, amount=500, currency="USD")])
    [first] = await posting.post(book.db, [journal])
    [again] = await posting.post(book.db, [journal])
    [inside_one_batch, repeated] = await posting.post(book.db, [journal, journal])
    assert first.ok
    assert not first.replayed
    assert again.ok
    assert again.replayed
    assert again.transfer_id == first.transfer_id
    assert inside_one_batch.transfer_id == repeated.transfer_id == first.transfer_id
    assert (await get_balance(book.db, book.alice)).posted == 500
    assert await count_rows(book.db, "transfers") == 1


async def test_a_repeat_inside_one_new_batch_is_applied_once(book: Book) -> None:
    journal = Journal([posted("dep-9", debit=book.clearing, credit=book.alice, amount=70, currency="USD")])
    first, second = await posting.post(book.db, [journal, journal])
    assert first.ok
    assert not first.replayed
    assert second.ok
    assert second.replayed
    assert second.transfer_id == first.transfer_id
    assert (await get_balance(book.db, book.alice)).posted == 70


async def test_same_key_different_content_is_refused(book: Book) -> None:
    await posting.post(
        book.db,
        [Journal([posted("dep-1", debit=book.clearing, credit=book.alice, amount=500, currency="USD")])],
    )
    [result] = await posting.post(
        book.db,
        [Journal([posted("dep-1", debit=book.clearing, credit=book.alice, amount=501, currency="USD")])],
    )
    assert result.refusal is Refusal.IDEMPOTENCY_CONFLICT
    [other_account] = await posting.post(
        book.db,
        [Journal([posted("dep-1", debit=book.clearing, credit=book.bob, amount=500, currency="USD")])],
    )
    assert other_account.refusal is Refusal.IDEMPOTENCY_CONFLICT
    assert (await get_balance(book.db, book.alice)).posted == 500
    assert (await get_balance(book.db, book.bob)).posted == 0


async def test_a_journal_mixing_a_used_key_with_new_ones_is_refused(book: Book) -> None:
    await deposit(book, "dep-1", book.alice, 500)
    results = await posting.post(
        book.db,
        [
            Journal(
                [
                    posted("dep-1", debit=book.clearing, credit=book.alice, amount=500, currency="USD"),
                    posted("dep-2", debit=book.clearing, credit=book.alice, amount=5, currency="USD"),
                ]
            )
        ],
    )
    # the repeated key matches its original, but the journal as a whole is not the original one
    assert [r.refusal for r in results] == [Refusal.JOURNAL_FAILED, Refusal.IDEMPOTENCY_CONFLICT]
    assert (await get_balance(book.db, book.alice)).posted == 500


async def test_duplicate_key_inside_one_journal_is_refused(book: Book) -> None:
    transfer = posted("dup", debit=book.clearing, credit=book.alice, amount=5, currency="USD")
    results = await posting.post(book.db, [Journal([transfer, transfer])])
    assert [r.refusal for r in results] == [Refusal.JOURNAL_FAILED, Refusal.DUPLICATE_KEY_IN_JOURNAL]
    assert await count_rows(book.db, "transfers") == 0


HOSTILE_AMOUNTS = [
    0,
    -1,
    -(2**63),
    2**63,
    2**64 + 5,
    1.5,
    100.0,
    Decimal("100"),
    True,
    "100",
    None,
    float("nan"),
]


async def test_hostile_amounts_are_refused(book: Book) -> None:
    """One database for every case: each case is its own batch, refused without a trace."""
    for amount in HOSTILE_AMOUNTS:
        request = TransferRequest("bad", TransferKind.POSTED, book.clearing, book.alice, amount, "USD")
        [result] = await posting.post(book.db, [Journal([request])])
        assert result.refusal in {Refusal.INVALID_AMOUNT, Refusal.AMOUNT_OVERFLOW}, amount
    assert await count_rows(book.db, "transfers") == 0


async def test_counters_that_would_overflow_are_refused(book: Book) -> None:
    await deposit(book, "big-1", book.alice, MAX_AMOUNT)
    [result] = await posting.post(
        book.db,
        [Journal([posted("big-2", debit=book.clearing, credit=book.alice, amount=1, currency="USD")])],
    )
    assert result.refusal is Refusal.AMOUNT_OVERFLOW
    assert (await get_balance(book.db, book.alice)).posted == MAX_AMOUNT


async def test_shape_refusals(book: Book) -> None:
    cases = {
        "same": posted("same", debit=book.alice, credit=book.alice, amount=1, currency="USD"),
        "missing": posted("missing", debit=book.clearing, credit=999_999, amount=1, currency="USD"),
        "cross": posted("cross", debit=book.clearing, credit=book.alice_eur, amount=1, currency="USD"),
        "label": posted("label", debit=book.clearing, credit=book.alice, amount=1, currency="EUR"),
        "key": posted("", debit=book.clearing, credit=book.alice, amount=1, currency="USD"),
        "long": posted("k" * 129, debit=book.clearing, credit=book.alice, amount=1, currency="USD"),
    }
    results = await posting.post(book.db, [Journal([request]) for request in cases.values()])
    assert dict(zip(cases, [r.refusal for r in results], strict=True)) == {
        "same": Refusal.SAME_ACCOUNT,
        "missing": Refusal.ACCOUNT_NOT_FOUND,
        "cross": Refusal.CURRENCY_MISMATCH,
        "label": Refusal.CURRENCY_MISMATCH,
        "key": Refusal.INVALID_KEY,
        "long": Refusal.INVALID_KEY,
    }
    assert await count_rows(book.db, "transfers") == 0


async def test_malformed_batches_raise(book: Book) -> None:
    with pytest.raises(InvalidBatchError):
        await posting.post(book.db, [Journal([])])
    with pytest.raises(InvalidBatchError):
        await posting.post(book.db, ["not a journal"])  # type: ignore[list-item]


async def test_pending_reserves_then_posts_in_part(book: Book) -> None:
    await deposit(book, "dep", book.alice, 1_000)
    [hold] = await posting.post(
        book.db, [Journal([pending("hold", debit=book.alice, credit=book.bob, amount=700, currency="USD")])]
    )
    alice = await get_balance(book.db, book.alice)
    assert (alice.posted, alice.pending_out, alice.available) == (1_000, 700, 300)
    [overspend] = await posting.post(
        book.db, [Journal([posted("spend", debit=book.alice, credit=book.bob, amount=301, currency="USD")])]
    )
    assert overspend.refusal is Refusal.INSUFFICIENT_FUNDS
    assert hold.transfer_id is not None
    [too_much] = await posting.post(
        book.db, [Journal([post_pending("post", pending_id=hold.transfer_id, amount=701)])]
    )
    assert too_much.refusal is Refusal.AMOUNT_EXCEEDS_PENDING
    [partial] = await posting.post(
        book.db, [Journal([post_pending("post", pending_id=hold.transfer_id, amount=250)])]
    )
    assert partial.ok
    alice = await get_balance(book.db, book.alice)
    bob = await get_balance(book.db, book.bob)
    assert (alice.posted, alice.pending_out, alice.available) == (750, 0, 750)
    assert (bob.posted, bob.pending_in) == (250, 0)


async def test_pending_posts_in_full_or_voids(book: Book) -> None:
    await deposit(book, "dep", book.alice, 1_000)
    holds = await posting.post(
        book.db,
        [
            Journal([pending("h1", debit=book.alice, credit=book.bob, amount=100, currency="USD")]),
            Journal([pending("h2", debit=book.alice, credit=book.bob, amount=200, currency="USD")]),
        ],
    )
    h1, h2 = (hold.transfer_id for hold in holds)
    assert h1 is not None
    assert h2 is not None
    results = await posting.post(
        book.db, [Journal([post_pending("p1", pending_id=h1)]), Journal([void_pending("v2", pending_id=h2)])]
    )
    assert all(r.ok for r in results)
    assert (await get_balance(book.db, book.alice)).posted == 900
    assert (await get_balance(book.db, book.alice)).pending_out == 0
    assert (await get_balance(book.db, book.bob)).posted == 100


async def test_a_pending_transfer_resolves_at_most_once(book: Book) -> None:
    await deposit(book, "dep", book.alice, 1_000)
    [hold] = await posting.post(
        book.db, [Journal([pending("h", debit=book.alice, credit=book.bob, amount=100, currency="USD")])]
    )
    assert hold.transfer_id is not None
    same_batch = await posting.post(
        book.db,
        [
            Journal([post_pending("p", pending_id=hold.transfer_id)]),
            Journal([void_pending("v", pending_id=hold.transfer_id)]),
        ],
    )
    assert [r.refusal for r in same_batch] == [None, Refusal.PENDING_ALREADY_RESOLVED]
    [later] = await posting.post(book.db, [Journal([void_pending("v2", pending_id=hold.transfer_id)])])
    assert later.refusal is Refusal.PENDING_ALREADY_RESOLVED
    [not_pending] = await posting.post(
        book.db, [Journal([void_pending("v3", pending_id=same_batch[0].transfer_id or 0)])]
    )
    assert not_pending.refusal is Refusal.PENDING_NOT_FOUND
    assert (await get_balance(book.db, book.bob)).posted == 100


async def test_two_claims_on_one_transfer_inside_one_journal_are_refused(book: Book) -> None:
    """Found by the property test: the second claim used to reach the database's guards."""
    await deposit(book, "dep", book.alice, 1_000)
    [hold] = await posting.post(
        book.db, [Journal([pending("h", debit=book.alice, credit=book.bob, amount=100, currency="USD")])]
    )
    [move] = await posting.post(
        book.db, [Journal([posted("m", debit=book.alice, credit=book.bob, amount=50, currency="USD")])]
    )
    assert hold.transfer_id is not None
    assert move.transfer_id is not None
    rows_before = await count_rows(book.db, "transfers")
    results = await posting.post(
        book.db,
        [
            Journal(
                [
                    post_pending("p1", pending_id=hold.transfer_id, amount=40),
                    post_pending("p2", pending_id=hold.transfer_id, amount=40),
                ]
            ),
            Journal(
                [reversal("r1", transfer_id=move.transfer_id), reversal("r2", transfer_id=move.transfer_id)]
            ),
        ],
    )
    assert [r.refusal for r in results] == [
        Refusal.JOURNAL_FAILED,
        Refusal.PENDING_ALREADY_RESOLVED,
        Refusal.JOURNAL_FAILED,
        Refusal.ALREADY_REVERSED,
    ]
    assert await count_rows(book.db, "transfers") == rows_before
    balance = await get_balance(book.db, book.bob)
    assert (balance.posted, balance.pending_in) == (50, 100)


async def test_the_database_refuses_a_second_resolution(book: Book) -> None:
    """The partial unique index on pending_id is the backstop under the posting code."""
    await deposit(book, "dep", book.alice, 1_000)
    [hold] = await posting.post(
        book.db, [Journal([pending("h", debit=book.alice, credit=book.bob, amount=100, currency="USD")])]
    )
    [void] = await posting.post(book.db, [Journal([void_pending("v", pending_id=hold.transfer_id or 0)])])
    assert void.ok
    with pytest.raises(IntegrityError):
        async with book.db.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO transfers (id, journal_id, idempotency_key, kind, debit_account_id,"
                    " credit_account_id, currency, amount, pending_id, code, created_at)"
                    " SELECT 1000, journal_id, 'again', 'void_pending', debit_account_id, credit_account_id,"
                    " currency, amount, id, '', created_at FROM transfers WHERE id = :id"
                ),
                {"id": hold.transfer_id},
            )


async def test_expiry_releases_a_timed_out_pending_transfer_once(book: Book) -> None:
    await deposit(book, "dep", book.alice, 1_000)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    [hold] = await posting.post(
        book.db,
        [
            Journal(
                [
                    pending(
                        "h",
                        debit=book.alice,
                        credit=book.bob,
                        amount=400,
                        currency="USD",
                        timeout_at=start + timedelta(hours=1),
                    )
                ]
            )
        ],
        now=start,
    )
    assert hold.transfer_id is not None
    [early] = await posting.post(
        book.db, [Journal([expire_pending("e", pending_id=hold.transfer_id)])], now=start
    )
    assert early.refusal is Refusal.PENDING_NOT_EXPIRED
    assert await expire_due_pending(book.db, now=start + timedelta(minutes=59)) == []
    [late_post] = await posting.post(
        book.db, [Journal([post_pending("p", pending_id=hold.transfer_id)])], now=start + timedelta(hours=2)
    )
    assert late_post.refusal is Refusal.PENDING_EXPIRED
    expired = await expire_due_pending(book.db, now=start + timedelta(hours=2))
    assert [r.ok for r in expired] == [True]
    assert await expire_due_pending(book.db, now=start + timedelta(hours=3)) == []
    alice = await get_balance(book.db, book.alice)
    assert (alice.posted, alice.pending_out) == (1_000, 0)


async def test_a_transfer_plus_its_reversal_is_the_identity(book: Book) -> None:
    await deposit(book, "dep", book.alice, 1_000)
    before = {a: await get_balance(book.db, a) for a in (book.alice, book.bob)}
    [move] = await posting.post(
        book.db, [Journal([posted("m", debit=book.alice, credit=book.bob, amount=300, currency="USD")])]
    )
    assert move.transfer_id is not None
    [undo] = await posting.post(book.db, [Journal([reversal("r", transfer_id=move.transfer_id)])])
    assert undo.ok
    assert {a: await get_balance(book.db, a) for a in (book.alice, book.bob)} == before
    [twice] = await posting.post(book.db, [Journal([reversal("r2", transfer_id=move.transfer_id)])])
    assert twice.refusal is Refusal.ALREADY_REVERSED
    [of_reversal] = await posting.post(
        book.db, [Journal([reversal("r3", transfer_id=undo.transfer_id or 0)])]
    )
    assert of_reversal.refusal is Refusal.NOT_REVERSIBLE
    [missing] = await posting.post(book.db, [Journal([reversal("r4", transfer_id=123_456)])])
    assert missing.refusal is Refusal.TRANSFER_NOT_FOUND


async def test_a_reversal_respects_the_overdraft_guard(book: Book) -> None:
    deposit_id = await deposit(book, "dep", book.alice, 1_000)
    await posting.post(
        book.db, [Journal([posted("spend", debit=book.alice, credit=book.bob, amount=900, currency="USD")])]
    )
    [chargeback] = await posting.post(book.db, [Journal([reversal("cb", transfer_id=deposit_id)])])
    assert chargeback.refusal is Refusal.INSUFFICIENT_FUNDS


async def test_post_batch_joins_the_callers_transaction(book: Book) -> None:
    async with posting.write_transaction(book.db) as connection:
        [result] = await posting.post_batch(
            connection,
            [Journal([posted("in-tx", debit=book.clearing, credit=book.alice, amount=5, currency="USD")])],
        )
        assert result.ok
        await connection.rollback()
    assert (await get_balance(book.db, book.alice)).posted == 0
    async with book.db.transaction() as session:
        [result] = await posting.post_batch(
            session,
            [
                Journal(
                    [posted("in-session", debit=book.clearing, credit=book.alice, amount=5, currency="USD")]
                )
            ],
        )
    assert (await get_balance(book.db, book.alice)).posted == 5


IMMUTABLE = [
    "UPDATE transfers SET amount = 1",
    "DELETE FROM transfers",
    "UPDATE entries SET balance_after = 0",
    "DELETE FROM entries",
    "DELETE FROM accounts",
    "UPDATE accounts SET currency = 'EUR'",
    "UPDATE accounts SET normal_side = 'debit'",
]


async def test_triggers_refuse_changing_history(book: Book) -> None:
    await deposit(book, "dep", book.alice, 1_000)
    for statement in IMMUTABLE:
        with pytest.raises(DBAPIError):
            async with book.db.engine.begin() as connection:
                await connection.execute(text(statement))
    assert (await get_balance(book.db, book.alice)).posted == 1_000
    assert await count_rows(book.db, "transfers") == 1
    assert await count_rows(book.db, "entries") == 2


async def test_database_checks_back_up_the_posting_code(book: Book) -> None:
    """Bypassing the posting code still can't overdraw a guarded account or mix currencies."""
    await deposit(book, "dep", book.alice, 100)
    with pytest.raises(IntegrityError):
        async with book.db.engine.begin() as connection:
            await connection.execute(
                text("UPDATE accounts SET debits_posted = 101 WHERE id = :id"), {"id": book.alice}
            )
    bad_inserts = {
        "currency": (book.clearing, book.alice_eur, "USD", 5),
        "same account": (book.alice, book.alice, "USD", 5),
        "zero": (book.clearing, book.alice, "USD", 0),
        "negative": (book.clearing, book.alice, "USD", -5),
    }
    for debit, credit, currency, amount in bad_inserts.values():
        with pytest.raises(IntegrityError):
            async with book.db.engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO transfers (id, journal_id, idempotency_key, kind, debit_account_id,"
                        " credit_account_id, currency, amount, code, created_at)"
                        " SELECT 1000, journal_id, 'raw', 'posted', :debit, :credit, :currency, :amount, '',"
                        " created_at FROM transfers LIMIT 1"
                    ),
                    {"debit": debit, "credit": credit, "currency": currency, "amount": amount},
                )


async def test_an_entry_must_be_one_side_of_an_existing_transfer(book: Book) -> None:
    """Entries carry no foreign keys; the trigger that replaced them refuses what they refused
    (a missing transfer, a missing account) and more (an account that is not the transfer's side)."""
    transfer_id = await deposit(book, "dep", book.alice, 100)
    bad_entries = {
        "missing transfer": (book.alice, transfer_id + 1000, "credit"),
        "missing account": (book.alice + 1000, transfer_id, "credit"),
        "not a side of the transfer": (book.bob, transfer_id, "credit"),
        "the other side of the transfer": (book.alice, transfer_id, "debit"),
    }
    for account_id, entry_transfer_id, side in bad_entries.values():
        with pytest.raises(IntegrityError, match="side of an existing transfer"):
            async with book.db.engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO entries (account_id, version, transfer_id, side, posted_amount,"
                        " pending_amount, balance_after, created_at)"
                        " VALUES (:account, 99, :transfer, :side, 1, 0, 1, CURRENT_TIMESTAMP)"
                    ),
                    {"account": account_id, "transfer": entry_transfer_id, "side": side},
                )
    assert await count_rows(book.db, "entries") == 2
    assert (await get_balance(book.db, book.alice)).posted == 100


async def test_keys_and_references_with_awkward_characters_round_trip(book: Book) -> None:
    awkward = ['quote"d', "back\\slash", "comma,brace{}", "NULL", "ünï 中文", "  spaced  "]
    journals = [
        Journal(
            [posted(key, debit=book.clearing, credit=book.alice, amount=1, currency="USD", reference=key)]
        )
        for key in awkward
    ]
    results = await posting.post(book.db, journals)
    assert all(r.ok for r in results)
    async with book.db.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT idempotency_key, reference FROM transfers"))).all()
    assert sorted((k, r) for k, r in stored) == sorted((k, k) for k in awkward)
    again = await posting.post(book.db, journals)
    assert all(r.replayed for r in again)


WRONG_FIELDS: list[dict[str, object]] = [
    {"rate_id": "1,2"},
    {"rate_id": -4},
    {"code": "c" * 33},
    {"code": 7},
    {"reference": "r" * 129},
    {"reference": b"bytes"},
    {"timeout_at": "2030-01-01"},
    {"timeout_at": datetime(2030, 1, 1)},  # naive: ambiguous, refused
]


async def test_other_fields_of_the_wrong_type_or_size_are_refused(book: Book) -> None:
    base = {"key": "f", "kind": TransferKind.PENDING, "debit_account_id": book.clearing,
            "credit_account_id": book.alice, "amount": 5, "currency": "USD"}  # fmt: skip
    for fields in WRONG_FIELDS:
        request = TransferRequest(**{**base, **fields})  # type: ignore[arg-type]
        [result] = await posting.post(book.db, [Journal([request])])
        assert result.refusal is Refusal.INVALID_FIELD, fields
    assert await count_rows(book.db, "transfers") == 0
