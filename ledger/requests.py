"""What a caller asks the ledger to do, and what it answers.

A :class:`Journal` groups :class:`TransferRequest` objects that must commit together. The
posting function answers one :class:`TransferResult` per request: ``ok`` with the transfer's id,
or the :class:`Refusal` that says why nothing happened. Requests are plain frozen values so that a
retry can be compared with the original for idempotency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

MAX_AMOUNT = 2**63 - 1
"""The largest amount a BIGINT counter can hold; anything that would pass it is refused."""

MAX_KEY_LENGTH = 128
MAX_CODE_LENGTH = 32
MAX_REFERENCE_LENGTH = 128


class TransferKind(StrEnum):
    """What a transfer does (stored in ``transfers.kind``)."""

    POSTED = "posted"
    PENDING = "pending"
    POST_PENDING = "post_pending"
    VOID_PENDING = "void_pending"
    EXPIRE_PENDING = "expire_pending"
    REVERSAL = "reversal"


RESOLVING_KINDS = frozenset(
    {TransferKind.POST_PENDING, TransferKind.VOID_PENDING, TransferKind.EXPIRE_PENDING}
)
NEW_MOVEMENT_KINDS = frozenset({TransferKind.POSTED, TransferKind.PENDING})
REVERSIBLE_KINDS = frozenset({TransferKind.POSTED, TransferKind.POST_PENDING})


class Refusal(StrEnum):
    """Why a transfer was not applied. Every refusal leaves no trace in the database."""

    INVALID_KEY = "invalid_key"
    INVALID_AMOUNT = "invalid_amount"
    AMOUNT_OVERFLOW = "amount_overflow"
    SAME_ACCOUNT = "same_account"
    ACCOUNT_NOT_FOUND = "account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CREDITS_EXCEED_DEBITS = "credits_exceed_debits"
    PENDING_NOT_FOUND = "pending_not_found"
    PENDING_ALREADY_RESOLVED = "pending_already_resolved"
    PENDING_EXPIRED = "pending_expired"
    PENDING_NOT_EXPIRED = "pending_not_expired"
    AMOUNT_EXCEEDS_PENDING = "amount_exceeds_pending"
    TRANSFER_NOT_FOUND = "transfer_not_found"
    NOT_REVERSIBLE = "not_reversible"
    ALREADY_REVERSED = "already_reversed"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    DUPLICATE_KEY_IN_JOURNAL = "duplicate_key_in_journal"
    INVALID_FIELD = "invalid_field"
    """A code, reference, rate id or timeout of the wrong type or too long."""
    JOURNAL_FAILED = "journal_failed"
    """Another transfer of the same journal was refused, so this one was not applied either."""


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """One transfer to post. Build it with the functions below rather than by hand."""

    key: str
    kind: TransferKind
    debit_account_id: int | None = None
    credit_account_id: int | None = None
    amount: object = None
    """Minor units. Typed loosely on purpose: hostile values are refused, not crashed on."""
    currency: str | None = None
    pending_id: int | None = None
    reverses_id: int | None = None
    timeout_at: datetime | None = None
    code: str = ""
    reference: str | None = None
    rate_id: int | None = None


def posted(
    key: str,
    *,
    debit: int,
    credit: int,
    amount: int,
    currency: str,
    code: str = "",
    reference: str | None = None,
    rate_id: int | None = None,
) -> TransferRequest:
    """Move ``amount`` from ``debit`` to ``credit`` now."""
    return TransferRequest(
        key, TransferKind.POSTED, debit, credit, amount, currency, None, None, None, code, reference, rate_id
    )


def pending(
    key: str,
    *,
    debit: int,
    credit: int,
    amount: int,
    currency: str,
    timeout_at: datetime | None = None,
    code: str = "",
    reference: str | None = None,
) -> TransferRequest:
    """Reserve ``amount`` (it counts against the debit account's available balance) until resolved."""
    return TransferRequest(
        key, TransferKind.PENDING, debit, credit, amount, currency, None, None, timeout_at, code, reference
    )


def post_pending(key: str, *, pending_id: int, amount: int | None = None, code: str = "") -> TransferRequest:
    """Post a pending transfer in full (``amount=None``) or in part; the rest is released."""
    return TransferRequest(key, TransferKind.POST_PENDING, amount=amount, pending_id=pending_id, code=code)


def void_pending(key: str, *, pending_id: int, code: str = "") -> TransferRequest:
    """Release a pending transfer: nothing moves."""
    return TransferRequest(key, TransferKind.VOID_PENDING, pending_id=pending_id, code=code)


def expire_pending(key: str, *, pending_id: int, code: str = "") -> TransferRequest:
    """Release a pending transfer whose timeout has passed."""
    return TransferRequest(key, TransferKind.EXPIRE_PENDING, pending_id=pending_id, code=code)


def reversal(key: str, *, transfer_id: int, code: str = "") -> TransferRequest:
    """Undo a posted transfer with a new transfer in the opposite direction (never an edit)."""
    return TransferRequest(key, TransferKind.REVERSAL, reverses_id=transfer_id, code=code)


@dataclass(frozen=True, slots=True)
class Journal:
    """Transfers that are applied all together or not at all."""

    transfers: Sequence[TransferRequest]


@dataclass(frozen=True, slots=True)
class TransferResult:
    """The answer for one transfer request, in the order the requests were given."""

    key: str
    transfer_id: int | None
    refusal: Refusal | None = None
    replayed: bool = False
    """True when the key was posted before with the same content and this is the original result."""
    journal_index: int = field(default=0, compare=False)

    @property
    def ok(self) -> bool:
        return self.refusal is None
