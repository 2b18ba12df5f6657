"""The one path that changes balances: post a batch of journals in one short transaction.

Steps (DESIGN.md §4):

1. lock every account the batch touches (those it names and those of the pending transfers it
   resolves or the transfers it reverses), once, in ascending id order (PostgreSQL
   ``SELECT … ORDER BY id FOR UPDATE``; on SQLite the transaction began with ``BEGIN IMMEDIATE``,
   which already holds the single write lock), and in the same statement read the transfers the
   batch names: by idempotency key (keys used before) and by id (rows that can't change);
2. when the batch resolves or reverses something, detect pending transfers already resolved and
   transfers already reversed (after the lock, so a concurrent poster of the same accounts has
   committed or not started);
3. apply each journal in memory, all or nothing;
4. write ids, transfers, entries and account counters in one bulk statement (PostgreSQL).

Keys are read with the lock, in its statement's snapshot, which is taken before the lock is
granted. A concurrent transaction may commit one of our keys while we wait for the lock; then the
unique index refuses our insert, which surfaces as :class:`ConcurrentPostingError`, and :func:`post`
retries in a fresh transaction that sees the key. The common case (no such race) saves a round
trip on every post.

Sorting once per batch, not per transfer, is what keeps concurrent batches from deadlocking.
Nothing here makes a network call. Only this module writes account counters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeGuard

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.clock import utcnow
from core.db import Database
from core.db.engine import begin_write
from ledger import storage
from ledger.errors import ConcurrentPostingError, InvalidBatchError
from ledger.requests import (
    MAX_AMOUNT,
    MAX_CODE_LENGTH,
    MAX_KEY_LENGTH,
    MAX_REFERENCE_LENGTH,
    NEW_MOVEMENT_KINDS,
    RESOLVING_KINDS,
    REVERSIBLE_KINDS,
    Journal,
    Refusal,
    TransferKind,
    TransferRequest,
    TransferResult,
)
from ledger.storage import AccountRow, EntryRow, StoredTransfer, TransferRow

IDEMPOTENCY_KEY_CONSTRAINT = "uq_transfers_idempotency_key"
POST_ATTEMPTS = 3


class _Refused(Exception):
    """Internal control flow: a transfer is refused; never escapes this module."""

    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal


@dataclass(slots=True)
class _Account:
    """An account's counters as the batch sees them while it applies transfers in memory."""

    row: AccountRow
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    version: int
    dirty: bool = False

    @classmethod
    def from_row(cls, row: AccountRow) -> _Account:
        return cls(
            row, row.debits_posted, row.credits_posted, row.debits_pending, row.credits_pending, row.version
        )

    def snapshot(self) -> tuple[int, int, int, int, int, bool]:
        return (
            self.debits_posted,
            self.credits_posted,
            self.debits_pending,
            self.credits_pending,
            self.version,
            self.dirty,
        )

    def restore(self, snapshot: tuple[int, int, int, int, int, bool]) -> None:
        (
            self.debits_posted,
            self.credits_posted,
            self.debits_pending,
            self.credits_pending,
            self.version,
            self.dirty,
        ) = snapshot

    @property
    def balance(self) -> int:
        """Posted balance on the account's normal side."""
        if self.row.normal_side == "credit":
            return self.credits_posted - self.debits_posted
        return self.debits_posted - self.credits_posted

    def violation(
        self, debits_posted: int, credits_posted: int, debits_pending: int, credits_pending: int
    ) -> Refusal | None:
        """The refusal these prospective counters would deserve, if any (checked before any change)."""
        debits = debits_posted + debits_pending
        credits = credits_posted + credits_pending
        if debits > MAX_AMOUNT or credits > MAX_AMOUNT:
            return Refusal.AMOUNT_OVERFLOW
        if self.row.debits_must_not_exceed_credits and debits > credits_posted:
            return Refusal.INSUFFICIENT_FUNDS
        if self.row.credits_must_not_exceed_debits and credits > debits_posted:
            return Refusal.CREDITS_EXCEED_DEBITS
        return None


@dataclass(slots=True)
class _Staged:
    """A transfer that passed every check, waiting for its id and the bulk write."""

    key: str
    kind: TransferKind
    debit: int
    credit: int
    currency: str
    amount: int
    pending_id: int | None
    reverses_id: int | None
    timeout_at: datetime | None
    code: str
    reference: str | None
    rate_id: int | None
    entries: list[tuple[int, str, int, int, int, int]] = field(default_factory=list)
    """(account id, side, posted delta, pending delta, balance after, version)"""
    journal_slot: int = 0
    journal_index: int = 0
    transfer_id: int = 0

    def content(self) -> tuple[object, ...]:
        return _content(
            self.kind,
            self.debit,
            self.credit,
            self.currency,
            self.amount,
            self.pending_id,
            self.reverses_id,
            self.timeout_at,
            self.code,
            self.reference,
            self.rate_id,
        )


def _content(
    kind: str,
    debit: int,
    credit: int,
    currency: str,
    amount: int,
    pending_id: int | None,
    reverses_id: int | None,
    timeout_at: datetime | None,
    code: str,
    reference: str | None,
    rate_id: int | None,
) -> tuple[object, ...]:
    """What two postings of one key must agree on to count as the same request."""
    return (
        str(kind),
        debit,
        credit,
        currency,
        amount,
        pending_id,
        reverses_id,
        _utc_naive(timeout_at),
        code,
        reference,
        rate_id,
    )


def _stored_content(stored: StoredTransfer) -> tuple[object, ...]:
    return _content(
        stored.kind,
        stored.debit_account_id,
        stored.credit_account_id,
        stored.currency,
        stored.amount,
        stored.pending_id,
        stored.reverses_id,
        stored.timeout_at,
        stored.code,
        stored.reference,
        stored.rate_id,
    )


def _utc_naive(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC; compare every timestamp in that form."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _is_id(value: object) -> TypeGuard[int]:
    return type(value) is int and value > 0


def _fields_valid(request: TransferRequest) -> bool:
    """Everything besides accounts and amount that reaches the database must have its type and size."""
    if type(request.code) is not str or len(request.code) > MAX_CODE_LENGTH:
        return False
    reference = request.reference
    if reference is not None and (type(reference) is not str or len(reference) > MAX_REFERENCE_LENGTH):
        return False
    if request.rate_id is not None and not _is_id(request.rate_id):
        return False
    return request.timeout_at is None or (
        isinstance(request.timeout_at, datetime) and request.timeout_at.tzinfo is not None
    )


def _valid_amount(value: object) -> int:
    """``value`` as a positive int that fits a BIGINT, or a refusal. Floats, bools, strings, Decimals
    and every other type are refused: money is an integer number of minor units."""
    if type(value) is not int:
        raise _Refused(Refusal.INVALID_AMOUNT)
    if value <= 0:
        raise _Refused(Refusal.INVALID_AMOUNT)
    if value > MAX_AMOUNT:
        raise _Refused(Refusal.AMOUNT_OVERFLOW)
    return value


@dataclass(slots=True)
class _Replay:
    """A repeat, inside one batch, of a key staged earlier in the same batch."""

    original: _Staged
    journal_index: int


Answer = TransferResult | _Staged | _Replay


class _Batch:
    """The in-memory state of one posting call."""

    def __init__(
        self,
        journals: Sequence[Journal],
        accounts: dict[int, _Account],
        referenced: dict[int, StoredTransfer],
        existing: dict[str, StoredTransfer],
        resolved_pending: set[int],
        reversed_ids: set[int],
        now: datetime,
    ) -> None:
        self.journals = journals
        self.accounts = accounts
        self.referenced = referenced
        self.existing = existing
        self.resolved_pending = resolved_pending
        self.reversed_ids = reversed_ids
        self.now = now
        self.now_naive = _utc_naive(now)
        self.staged_by_key: dict[str, _Staged] = {}
        self.staged: list[_Staged] = []
        self.new_journals: list[Journal] = []

    def run(self) -> list[Answer]:
        answers: list[Answer] = []
        for index, journal in enumerate(self.journals):
            answers.extend(self._journal(index, journal))
        return answers

    def _journal(self, index: int, journal: Journal) -> list[Answer]:
        requests = journal.transfers if isinstance(journal.transfers, list) else list(journal.transfers)
        keys = [request.key for request in requests]
        for position, key in enumerate(keys):
            if type(key) is not str or not 0 < len(key) <= MAX_KEY_LENGTH:
                return self._refuse_journal(index, requests, {position: Refusal.INVALID_KEY})
        if len(keys) > 1 and len(set(keys)) != len(keys):
            seen: set[str] = set()
            duplicates = {}
            for position, key in enumerate(keys):
                if key in seen:
                    duplicates[position] = Refusal.DUPLICATE_KEY_IN_JOURNAL
                seen.add(key)
            return self._refuse_journal(index, requests, duplicates)

        existing, staged_keys = self.existing, self.staged_by_key
        if any(key in existing or key in staged_keys for key in keys):
            replay = self._replay(index, requests)
            if replay is not None:
                return replay

        # one transfer is checked before it changes anything; several need snapshots to roll back
        touched: dict[int, tuple[int, int, int, int, int, bool]] | None = {} if len(requests) > 1 else None
        staged: list[_Staged] = []
        for position, request in enumerate(requests):
            try:
                self._refuse_second_claim_in_journal(request, staged)
                staged.append(self._apply(request, touched))
            except _Refused as refused:
                for account_id, snapshot in (touched or {}).items():
                    self.accounts[account_id].restore(snapshot)
                return self._refuse_journal(index, requests, {position: refused.refusal})

        slot = len(self.new_journals)
        self.new_journals.append(journal)
        for item in staged:
            item.journal_slot = slot
            item.journal_index = index
            self.staged.append(item)
            self.staged_by_key[item.key] = item
            if item.kind in RESOLVING_KINDS and item.pending_id is not None:
                self.resolved_pending.add(item.pending_id)
            if item.reverses_id is not None:
                self.reversed_ids.add(item.reverses_id)
        return list(staged)

    @staticmethod
    def _refuse_second_claim_in_journal(request: TransferRequest, staged: list[_Staged]) -> None:
        """A pending transfer resolves once and a transfer is reversed once, also within one journal:
        the batch-wide sets learn of a journal's claims only after the whole journal is staged."""
        if request.kind in RESOLVING_KINDS and any(
            item.kind in RESOLVING_KINDS and item.pending_id == request.pending_id for item in staged
        ):
            raise _Refused(Refusal.PENDING_ALREADY_RESOLVED)
        if request.kind is TransferKind.REVERSAL and any(
            item.reverses_id is not None and item.reverses_id == request.reverses_id for item in staged
        ):
            raise _Refused(Refusal.ALREADY_REVERSED)

    def _refuse_journal(
        self, index: int, requests: list[TransferRequest], reasons: dict[int, Refusal]
    ) -> list[Answer]:
        return [
            TransferResult(
                key=request.key if isinstance(request.key, str) else repr(request.key),
                transfer_id=None,
                refusal=reasons.get(position, Refusal.JOURNAL_FAILED),
                journal_index=index,
            )
            for position, request in enumerate(requests)
        ]

    def _replay(self, index: int, requests: list[TransferRequest]) -> list[Answer] | None:
        """Original results when every key was posted before with the same content, a refusal when
        any key was used for something else, ``None`` when the keys are new."""
        earlier: list[StoredTransfer | _Staged | None] = [
            self.existing.get(request.key) or self.staged_by_key.get(request.key) for request in requests
        ]
        if all(item is None for item in earlier):
            return None
        conflicts: dict[int, Refusal] = {}
        journals: set[object] = set()
        for position, (request, item) in enumerate(zip(requests, earlier, strict=True)):
            if item is None:
                conflicts[position] = Refusal.IDEMPOTENCY_CONFLICT
                continue
            stored_content = item.content() if isinstance(item, _Staged) else _stored_content(item)
            if self._request_content(request) != stored_content:
                conflicts[position] = Refusal.IDEMPOTENCY_CONFLICT
            journals.add(("staged", item.journal_slot) if isinstance(item, _Staged) else item.journal_id)
        if len(journals) > 1:
            conflicts = {position: Refusal.IDEMPOTENCY_CONFLICT for position in range(len(requests))}
        if conflicts:
            return self._refuse_journal(index, requests, conflicts)
        answers: list[Answer] = []
        for request, item in zip(requests, earlier, strict=True):
            if isinstance(item, StoredTransfer):
                answers.append(TransferResult(request.key, item.id, None, True, index))
            else:
                assert item is not None
                answers.append(_Replay(item, index))
        return answers

    def _request_content(self, request: TransferRequest) -> tuple[object, ...] | None:
        """The content a request would store, resolved against what it refers to."""
        kind = request.kind
        if type(request.amount) is not int and not (
            request.amount is None and kind not in NEW_MOVEMENT_KINDS
        ):
            return None
        if kind in NEW_MOVEMENT_KINDS:
            return _content(
                kind,
                request.debit_account_id,  # type: ignore[arg-type]
                request.credit_account_id,  # type: ignore[arg-type]
                request.currency,  # type: ignore[arg-type]
                request.amount,  # type: ignore[arg-type]
                None,
                None,
                request.timeout_at,
                request.code,
                request.reference,
                request.rate_id,
            )
        target_id = request.pending_id if kind in RESOLVING_KINDS else request.reverses_id
        target = self.referenced.get(target_id) if _is_id(target_id) else None
        if target is None:
            return None
        if kind is TransferKind.REVERSAL:
            debit, credit, amount = target.credit_account_id, target.debit_account_id, target.amount
        else:
            debit, credit = target.debit_account_id, target.credit_account_id
            amount = (
                request.amount
                if kind is TransferKind.POST_PENDING and request.amount is not None
                else target.amount
            )
        return _content(
            kind,
            debit,
            credit,
            target.currency,
            amount,
            request.pending_id if kind in RESOLVING_KINDS else None,
            request.reverses_id if kind is TransferKind.REVERSAL else None,
            None,
            request.code,
            None,
            None,
        )

    def _apply(
        self, request: TransferRequest, touched: dict[int, tuple[int, int, int, int, int, bool]] | None
    ) -> _Staged:
        kind = request.kind
        if not _fields_valid(request):
            raise _Refused(Refusal.INVALID_FIELD)
        if kind in NEW_MOVEMENT_KINDS:
            return self._apply_new(request, touched)
        if kind in RESOLVING_KINDS:
            return self._apply_resolution(request, touched)
        if kind is TransferKind.REVERSAL:
            return self._apply_reversal(request, touched)
        raise _Refused(Refusal.INVALID_AMOUNT)

    def _account(
        self, account_id: object, touched: dict[int, tuple[int, int, int, int, int, bool]] | None
    ) -> _Account:
        if not _is_id(account_id):
            raise _Refused(Refusal.ACCOUNT_NOT_FOUND)
        account = self.accounts.get(account_id)
        if account is None:
            raise _Refused(Refusal.ACCOUNT_NOT_FOUND)
        if touched is not None and account.row.id not in touched:
            touched[account.row.id] = account.snapshot()
        return account

    def _apply_new(
        self, request: TransferRequest, touched: dict[int, tuple[int, int, int, int, int, bool]] | None
    ) -> _Staged:
        amount = _valid_amount(request.amount)
        if request.debit_account_id == request.credit_account_id:
            raise _Refused(Refusal.SAME_ACCOUNT)
        debit = self._account(request.debit_account_id, touched)
        credit = self._account(request.credit_account_id, touched)
        if not isinstance(request.currency, str) or not (
            debit.row.currency == credit.row.currency == request.currency
        ):
            raise _Refused(Refusal.CURRENCY_MISMATCH)
        is_pending = request.kind is TransferKind.PENDING
        staged = _Staged(
            request.key,
            request.kind,
            debit.row.id,
            credit.row.id,
            request.currency,
            amount,
            None,
            None,
            request.timeout_at.astimezone(UTC) if is_pending and request.timeout_at is not None else None,
            request.code,
            request.reference,
            request.rate_id,
        )
        if is_pending:
            self._move(staged, debit, credit, posted=0, pending=amount)
        else:
            self._move(staged, debit, credit, posted=amount, pending=0)
        return staged

    def _apply_resolution(
        self, request: TransferRequest, touched: dict[int, tuple[int, int, int, int, int, bool]] | None
    ) -> _Staged:
        pending_id = request.pending_id
        target = self.referenced.get(pending_id) if _is_id(pending_id) else None
        if target is None or target.kind != TransferKind.PENDING:
            raise _Refused(Refusal.PENDING_NOT_FOUND)
        if target.id in self.resolved_pending:
            raise _Refused(Refusal.PENDING_ALREADY_RESOLVED)
        timeout = _utc_naive(target.timeout_at)
        expired = timeout is not None and self.now_naive is not None and self.now_naive >= timeout
        if request.kind is TransferKind.EXPIRE_PENDING:
            if not expired:
                raise _Refused(Refusal.PENDING_NOT_EXPIRED)
        elif expired:
            raise _Refused(Refusal.PENDING_EXPIRED)
        if request.kind is TransferKind.POST_PENDING:
            amount = target.amount if request.amount is None else _valid_amount(request.amount)
            if amount > target.amount:
                raise _Refused(Refusal.AMOUNT_EXCEEDS_PENDING)
            posted = amount
        else:
            if request.amount is not None:
                raise _Refused(Refusal.INVALID_AMOUNT)
            amount, posted = target.amount, 0
        debit = self._account(target.debit_account_id, touched)
        credit = self._account(target.credit_account_id, touched)
        staged = _Staged(
            request.key,
            request.kind,
            debit.row.id,
            credit.row.id,
            target.currency,
            amount,
            target.id,
            None,
            None,
            request.code,
            None,
            None,
        )
        self._move(staged, debit, credit, posted=posted, pending=-target.amount)
        return staged

    def _apply_reversal(
        self, request: TransferRequest, touched: dict[int, tuple[int, int, int, int, int, bool]] | None
    ) -> _Staged:
        target_id = request.reverses_id
        target = self.referenced.get(target_id) if _is_id(target_id) else None
        if target is None:
            raise _Refused(Refusal.TRANSFER_NOT_FOUND)
        if target.kind not in REVERSIBLE_KINDS:
            raise _Refused(Refusal.NOT_REVERSIBLE)
        if target.id in self.reversed_ids:
            raise _Refused(Refusal.ALREADY_REVERSED)
        if request.amount is not None:
            raise _Refused(Refusal.INVALID_AMOUNT)
        debit = self._account(target.credit_account_id, touched)
        credit = self._account(target.debit_account_id, touched)
        staged = _Staged(
            request.key,
            TransferKind.REVERSAL,
            debit.row.id,
            credit.row.id,
            target.currency,
            target.amount,
            None,
            target.id,
            None,
            request.code,
            None,
            None,
        )
        self._move(staged, debit, credit, posted=target.amount, pending=0)
        return staged

    def _move(self, staged: _Staged, debit: _Account, credit: _Account, *, posted: int, pending: int) -> None:
        """Check both accounts' prospective counters, then change them and record one entry per side.

        Checking first means a refused transfer never touched anything, so a one-transfer journal
        needs no snapshot to roll back.
        """
        debits_posted = debit.debits_posted + posted
        debits_pending = debit.debits_pending + pending
        credits_posted = credit.credits_posted + posted
        credits_pending = credit.credits_pending + pending
        refusal = debit.violation(
            debits_posted, debit.credits_posted, debits_pending, debit.credits_pending
        ) or credit.violation(credit.debits_posted, credits_posted, credit.debits_pending, credits_pending)
        if refusal is not None:
            raise _Refused(refusal)
        debit.debits_posted = debits_posted
        debit.debits_pending = debits_pending
        credit.credits_posted = credits_posted
        credit.credits_pending = credits_pending
        debit.version += 1
        credit.version += 1
        debit.dirty = credit.dirty = True
        staged.entries.append((debit.row.id, "debit", posted, pending, debit.balance, debit.version))
        staged.entries.append((credit.row.id, "credit", posted, pending, credit.balance, credit.version))


async def post_batch(
    connection: AsyncConnection | AsyncSession,
    journals: Sequence[Journal],
    *,
    now: datetime | None = None,
) -> list[TransferResult]:
    """Post ``journals`` inside the caller's transaction and answer one result per transfer.

    The caller owns the transaction (open it with :func:`write_transaction` so SQLite takes its
    write lock up front). Raises :class:`ConcurrentPostingError` when a concurrent transaction
    claimed one of the keys between our check and our insert; :func:`post` retries that for you.
    """
    if isinstance(connection, AsyncSession):
        connection = await connection.connection()
    if isinstance(journals, Journal) or not all(isinstance(journal, Journal) for journal in journals):
        raise InvalidBatchError("post a sequence of Journal objects")
    if any(not journal.transfers for journal in journals):
        raise InvalidBatchError("a journal needs at least one transfer")
    if any(not isinstance(request, TransferRequest) for journal in journals for request in journal.transfers):
        raise InvalidBatchError("a journal holds TransferRequest objects only")
    now = (now or utcnow()).astimezone(UTC)

    requests = [request for journal in journals for request in journal.transfers]
    referenced_ids = {
        target
        for request in requests
        for target in (request.pending_id, request.reverses_id)
        if _is_id(target)
    }
    keys = {request.key for request in requests if isinstance(request.key, str)}
    account_ids = {
        account_id
        for request in requests
        for account_id in (request.debit_account_id, request.credit_account_id)
        if _is_id(account_id)
    }
    store = storage.posting_store(connection)
    locked = await store.lock(sorted(account_ids), sorted(referenced_ids), keys)
    referenced: dict[int, StoredTransfer] = {}
    existing: dict[str, StoredTransfer] = {}
    for stored in locked.transfers:
        if stored.id in referenced_ids:
            referenced[stored.id] = stored
        if stored.idempotency_key in keys:
            existing[stored.idempotency_key] = stored
    pending_ids = {t.id for t in referenced.values() if t.kind == TransferKind.PENDING}
    reversible_ids = {t.id for t in referenced.values() if t.kind in REVERSIBLE_KINDS}
    resolved, reversed_ids = await store.claimed(pending_ids, reversible_ids)

    batch = _Batch(
        journals,
        {row.id: _Account.from_row(row) for row in locked.accounts},
        referenced,
        existing,
        resolved,
        reversed_ids,
        now,
    )
    answers = batch.run()
    if batch.staged:
        await _write(store, batch, now)
    return [_as_result(answer) for answer in answers]


def _as_result(answer: object) -> TransferResult:
    if isinstance(answer, TransferResult):
        return answer
    if isinstance(answer, _Replay):
        return TransferResult(
            answer.original.key, answer.original.transfer_id, None, True, answer.journal_index
        )
    assert isinstance(answer, _Staged)
    return TransferResult(answer.key, answer.transfer_id, None, False, answer.journal_index)


async def _write(store: storage.PostingStore, batch: _Batch, now: datetime) -> None:
    transfers: list[TransferRow] = []
    entries: list[EntryRow] = []
    for number, staged in enumerate(batch.staged, start=1):
        transfers.append(
            TransferRow(
                staged.journal_slot + 1,
                staged.key,
                str(staged.kind),
                staged.debit,
                staged.credit,
                staged.currency,
                staged.amount,
                staged.pending_id,
                staged.reverses_id,
                staged.timeout_at,
                staged.rate_id,
                staged.code,
                staged.reference,
            )
        )
        for account_id, side, posted_delta, pending_delta, balance_after, version in staged.entries:
            entries.append(
                EntryRow(account_id, version, number, side, posted_delta, pending_delta, balance_after)
            )
    accounts = [
        (a.row.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending, a.version)
        for a in batch.accounts.values()
        if a.dirty
    ]
    try:
        transfer_ids = await store.write(len(batch.new_journals), transfers, entries, accounts, now)
    except IntegrityError as exc:
        if IDEMPOTENCY_KEY_CONSTRAINT in str(exc.orig):
            raise ConcurrentPostingError("another transaction posted one of these keys first") from exc
        raise
    for staged, transfer_id in zip(batch.staged, transfer_ids, strict=True):
        staged.transfer_id = transfer_id


@asynccontextmanager
async def write_transaction(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction fit for posting: on SQLite it begins with ``BEGIN IMMEDIATE``."""
    async with begin_write(db.engine) as connection:
        yield connection


async def post(
    db: Database, journals: Sequence[Journal], *, now: datetime | None = None
) -> list[TransferResult]:
    """Post ``journals`` in a transaction of their own and commit.

    Retried in a fresh transaction, up to ``POST_ATTEMPTS`` times:

    * a lost race on an idempotency key (two processes posting the same key at once); the retry
      answers with the original result or an idempotency refusal;
    * a lost connection. Posting runs on :attr:`Database.unpinged_engine`, whose pool never tests
      a connection at checkout (``core.db.engine._ping_on_checkout``), so a connection the server
      dropped shows up here instead; the pool then discards its stale connections. The keys make
      the retry safe even when the connection died during COMMIT: a transfer that did commit is
      answered as a replay, never posted twice.
    """
    for attempt in range(POST_ATTEMPTS):
        try:
            async with begin_write(db.unpinged_engine) as connection:
                return await post_batch(connection, journals, now=now)
        except ConcurrentPostingError:
            if attempt == POST_ATTEMPTS - 1:
                raise
        except DBAPIError as exc:
            if not exc.connection_invalidated or attempt == POST_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
