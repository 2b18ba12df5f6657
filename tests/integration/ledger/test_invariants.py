"""Property tests: random histories against the reference model, then the invariants (both backends)."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from core.db import Database
from ledger import chart, posting
from ledger.chart import Purpose
from ledger.requests import (
    Journal,
    Refusal,
    TransferKind,
    TransferRequest,
    post_pending,
    reversal,
    void_pending,
)
from tests.integration.ledger.conftest import count_rows
from tests.integration.ledger.invariants import assert_ledger_invariants
from tests.integration.ledger.reference_model import Action, ModelAccount, ModelLedger, Move, Resolve, Reverse

PROPERTY_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HOSTILE = [0, -3, 2**63, 1.5, "12", True, None]
WALLETS = ["w0", "w1", "w2", "w3"]
NAMES = [*WALLETS, "clearing", "trading", "eur"]


async def _open_accounts(db: Database, prefix: str) -> tuple[dict[str, int], ModelLedger]:
    async with db.transaction() as session:
        ids = {
            name: await chart.open_owner_account(session, Purpose.CLIENT_WALLET, f"{prefix}{name}", "USD")
            for name in WALLETS
        }
        ids["clearing"] = await chart.open_owner_account(session, Purpose.PSP_CLEARING, f"{prefix}psp", "USD")
        ids["trading"] = await chart.open_owner_account(
            session, Purpose.TRADING_ACCOUNT, f"{prefix}login", "USD"
        )
        ids["eur"] = await chart.open_owner_account(session, Purpose.CLIENT_WALLET, f"{prefix}w0", "EUR")
    model = ModelLedger()
    for name in WALLETS:
        model.accounts[name] = ModelAccount("USD", credit_normal=True, guarded=True)
    model.accounts["clearing"] = ModelAccount("USD", credit_normal=False, guarded=False)
    model.accounts["trading"] = ModelAccount("USD", credit_normal=True, guarded=False)
    model.accounts["eur"] = ModelAccount("EUR", credit_normal=True, guarded=True)
    return ids, model


def _request(action: Action, ids: dict[str, int], key_ids: dict[str, int]) -> TransferRequest:
    if isinstance(action, Move):
        kind = TransferKind.PENDING if action.pending else TransferKind.POSTED
        return TransferRequest(
            action.key, kind, ids[action.debit], ids[action.credit], action.amount, action.currency
        )
    if isinstance(action, Resolve):
        pending_id = key_ids[action.pending_key]
        if action.action == "post":
            return post_pending(action.key, pending_id=pending_id, amount=action.amount)  # type: ignore[arg-type]
        return void_pending(action.key, pending_id=pending_id)
    return reversal(action.key, transfer_id=key_ids[action.target_key])


@PROPERTY_SETTINGS
@given(data=st.data())
async def test_random_histories_match_the_reference_model(db: Database, data: st.DataObject) -> None:
    prefix = uuid.uuid4().hex[:8]
    ids, model = await _open_accounts(db, prefix)
    key_ids: dict[str, int] = {}
    counter = iter(range(10**6))
    history: list[list[Action]] = []
    applied_new = 0

    def new_key() -> str:
        return f"{prefix}:{next(counter)}"

    def draw_amount() -> object:
        if data.draw(st.integers(0, 9), label="hostile?") == 0:
            return data.draw(st.sampled_from(HOSTILE), label="hostile amount")
        return data.draw(st.integers(1, 400), label="amount")

    def draw_action() -> Action:
        choice = data.draw(
            st.sampled_from(["move", "move", "fund", "pending", "resolve", "reverse"]), label="action"
        )
        open_pending = [k for k, v in model.kinds.items() if v[0] == "pending" and k in key_ids]
        reversible = [
            k for k, v in model.kinds.items() if v[0] in {"posted", "post_pending"} and k in key_ids
        ]
        if choice == "resolve" and open_pending:
            target = data.draw(st.sampled_from(open_pending), label="pending")
            how = data.draw(st.sampled_from(["post", "post_part", "void"]), label="how")
            amount = draw_amount() if how == "post_part" else None
            return Resolve(new_key(), target, "void" if how == "void" else "post", amount)
        if choice == "reverse" and reversible:
            return Reverse(new_key(), data.draw(st.sampled_from(reversible), label="target"))
        if choice == "fund":
            return Move(new_key(), "clearing", data.draw(st.sampled_from(WALLETS)), draw_amount(), "USD")
        debit = data.draw(st.sampled_from(NAMES), label="debit")
        credit = data.draw(st.sampled_from(NAMES), label="credit")
        currency = "EUR" if "eur" in (debit, credit) and data.draw(st.booleans()) else "USD"
        return Move(new_key(), debit, credit, draw_amount(), currency, pending=choice == "pending")

    for _ in range(data.draw(st.integers(1, 5), label="batches")):
        journals: list[list[Action]] = []
        for _ in range(data.draw(st.integers(1, 3), label="journals")):
            mode = data.draw(st.sampled_from(["new", "new", "new", "replay", "conflict"]), label="mode")
            movable = [j for j in history if isinstance(j[0], Move) and type(j[0].amount) is int]
            if mode == "replay" and history:
                journals.append(data.draw(st.sampled_from(history), label="replayed"))
            elif mode == "conflict" and movable:
                original = data.draw(st.sampled_from(movable), label="conflicting")
                first = original[0]
                assert isinstance(first, Move)
                changed = Move(
                    first.key, first.debit, first.credit, int(first.amount) + 1, first.currency, first.pending
                )  # type: ignore[call-overload]
                journals.append([changed, *original[1:]])
            else:
                journals.append([draw_action() for _ in range(data.draw(st.integers(1, 3), label="size"))])
        expected: list[bool] = []
        fresh: list[bool] = []
        for journal in journals:
            known = any(action.key in model.stored for action in journal)
            outcome = model.post(journal)
            expected.extend(outcome)
            fresh.extend([not known] * len(journal))
        batch = [Journal([_request(a, ids, key_ids) for a in journal]) for journal in journals]
        results = await posting.post(db, batch)
        assert [r.ok for r in results] == expected, [(r.key, r.refusal) for r in results]
        flat = [action for journal in journals for action in journal]
        for action, result, is_fresh in zip(flat, results, fresh, strict=True):
            if not result.ok:
                continue
            assert result.transfer_id is not None
            if action.key in key_ids:
                assert result.replayed
                assert result.transfer_id == key_ids[action.key]  # same key, same original result
            else:
                assert is_fresh
                key_ids[action.key] = result.transfer_id
                applied_new += 1
        history.extend(journals)

    async with db.engine.connect() as connection:
        stored = {
            row[0]: tuple(row[1:])
            for row in (
                await connection.execute(
                    text(
                        "SELECT id, debits_posted, credits_posted, debits_pending, credits_pending"
                        " FROM accounts WHERE id IN (" + ",".join(str(i) for i in ids.values()) + ")"
                    )
                )
            ).all()
        }
        keys_in_db = (
            await connection.execute(
                text("SELECT COUNT(*) FROM transfers WHERE idempotency_key LIKE :p"), {"p": f"{prefix}:%"}
            )
        ).scalar_one()
    for name, account in model.accounts.items():
        assert stored[ids[name]] == (
            account.debits_posted,
            account.credits_posted,
            account.debits_pending,
            account.credits_pending,
        ), name
    # refused journals left no trace: the only rows are the applied transfers
    assert keys_in_db == applied_new == len(model.stored)
    await assert_ledger_invariants(db)


HOSTILE_STRATEGY = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=2**63),
    st.floats(allow_nan=True),
    st.decimals(allow_nan=False),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
)


@PROPERTY_SETTINGS
@given(amount=HOSTILE_STRATEGY)
async def test_hostile_amounts_never_reach_the_books(db: Database, amount: object) -> None:
    prefix = uuid.uuid4().hex[:8]
    ids, _ = await _open_accounts(db, prefix)
    before = await count_rows(db, "transfers")
    request = TransferRequest(f"{prefix}:bad", TransferKind.POSTED, ids["clearing"], ids["w0"], amount, "USD")
    [result] = await posting.post(db, [Journal([request])])
    assert result.refusal in {Refusal.INVALID_AMOUNT, Refusal.AMOUNT_OVERFLOW}
    assert await count_rows(db, "transfers") == before


@PROPERTY_SETTINGS
@given(
    amounts=st.lists(
        st.tuples(st.sampled_from(NAMES[:-1]), st.sampled_from(NAMES[:-1]), st.integers(1, 900)),
        min_size=1,
        max_size=8,
    )
)
async def test_transfers_followed_by_their_reversals_are_the_identity(
    db: Database, amounts: list[tuple[str, str, int]]
) -> None:
    prefix = uuid.uuid4().hex[:8]
    ids, _ = await _open_accounts(db, prefix)
    funding = [
        Journal(
            [TransferRequest(f"{prefix}:fund{n}", TransferKind.POSTED, ids["clearing"], ids[w], 1_000, "USD")]
        )
        for n, w in enumerate(WALLETS)
    ]
    assert all(r.ok for r in await posting.post(db, funding))

    async def snapshot() -> list[tuple[object, ...]]:
        async with db.engine.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT id, debits_posted - credits_posted, debits_pending - credits_pending"
                    " FROM accounts WHERE id IN (" + ",".join(str(i) for i in ids.values()) + ") ORDER BY id"
                )
            )
            return [tuple(row) for row in result.all()]

    before = await snapshot()
    moves = [
        Journal([TransferRequest(f"{prefix}:m{n}", TransferKind.POSTED, ids[a], ids[b], amount, "USD")])
        for n, (a, b, amount) in enumerate(amounts)
    ]
    applied = [r.transfer_id for r in await posting.post(db, moves) if r.ok]
    undo = [
        Journal([reversal(f"{prefix}:r{n}", transfer_id=t)]) for n, t in enumerate(reversed(applied)) if t
    ]
    if undo:
        assert all(r.ok for r in await posting.post(db, undo))
    assert await snapshot() == before
    await assert_ledger_invariants(db)
