"""Cashier tables: deposits, withdrawals, saved bank accounts and the PSP webhook log.

Balances are never stored here: they live in the ledger. A row here is the request and its status;
``transfer_id``/``hold_transfer_id`` point at the ledger transfer that moved (or reserves) the money.
Each request carries the client's idempotency key, unique per client, so a retried form or API call
finds the request it already made instead of making a second one.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base

KEY = String(128)
CURRENCY = String(8)
REASON = String(500)


class DepositMethod(enum.StrEnum):
    PSP = "psp"
    WIRE = "wire"


class DepositStatus(enum.StrEnum):
    CREATED = "created"
    """Claimed in our database; the PSP has not confirmed the payment exists yet."""
    AWAITING_PAYMENT = "awaiting_payment"
    """The client is on (or left) the PSP's hosted page; nothing is final."""
    AWAITING_REVIEW = "awaiting_review"
    """A wire with its proof, waiting for finance to see the money arrive."""
    CREDITED = "credited"
    DECLINED = "declined"
    REJECTED = "rejected"
    FAILED = "failed"


UNFINISHED_PAYMENT_STATUSES = (DepositStatus.CREATED, DepositStatus.AWAITING_PAYMENT)
"""A PSP payment asked for and not yet final."""
OPEN_DEPOSIT_STATUSES = (*UNFINISHED_PAYMENT_STATUSES, DepositStatus.AWAITING_REVIEW)


class WithdrawalStatus(enum.StrEnum):
    PENDING_APPROVAL = "pending_approval"
    AWAITING_SECOND_APPROVAL = "awaiting_second_approval"
    APPROVED = "approved"
    PAYING = "paying"
    """Claimed for a PSP payout: the call is being made (or its answer is not recorded yet)."""
    PAID = "paid"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


OPEN_WITHDRAWAL_STATUSES = (
    WithdrawalStatus.PENDING_APPROVAL,
    WithdrawalStatus.AWAITING_SECOND_APPROVAL,
    WithdrawalStatus.APPROVED,
    WithdrawalStatus.PAYING,
)
COUNTED_WITHDRAWAL_STATUSES = (*OPEN_WITHDRAWAL_STATUSES, WithdrawalStatus.PAID)
"""What counts towards the daily limit: everything not rejected or cancelled."""


class DestinationKind(enum.StrEnum):
    BANK_ACCOUNT = "bank_account"
    PSP = "psp"


class BankAccountStatus(enum.StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    REJECTED = "rejected"
    REMOVED = "removed"


class Deposit(Base):
    """One deposit request, by PSP or by wire, and what became of it."""

    __tablename__ = "cashier_deposits"
    __table_args__ = (
        UniqueConstraint("client_id", "idempotency_key"),
        UniqueConstraint("psp", "psp_payment_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("credited_amount IS NULL OR credited_amount > 0", name="credited_positive"),
        Index("ix_cashier_deposits_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(index=True)
    method: Mapped[str] = mapped_column(String(16))
    psp: Mapped[str | None] = mapped_column(String(32))
    psp_payment_id: Mapped[str | None] = mapped_column(String(64))
    hosted_url: Mapped[str | None] = mapped_column(String(500))
    currency: Mapped[str] = mapped_column(CURRENCY)
    amount: Mapped[int]
    """What the client said they would pay (the PSP payment's amount; a wire's declared amount)."""
    credited_amount: Mapped[int | None]
    """What reached the wallet: the PSP amount, or the wire amount finance saw arrive."""
    status: Mapped[str] = mapped_column(String(24))
    idempotency_key: Mapped[str] = mapped_column(KEY)
    proof_file_key: Mapped[str | None] = mapped_column(String(128))
    proof_content_type: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(REASON)
    transfer_id: Mapped[int | None]
    chargeback_open: Mapped[bool] = mapped_column(default=False)
    decided_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    fee_amount: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    """The deposit fee taken from the wallet when the deposit was credited (``cashier.fees``), in
    the same journal as the credit; 0 when none is configured."""


class Withdrawal(Base):
    """One withdrawal request; the money is reserved in the ledger by ``hold_transfer_id``."""

    __tablename__ = "cashier_withdrawals"
    __table_args__ = (
        UniqueConstraint("client_id", "idempotency_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_cashier_withdrawals_status_created", "status", "created_at"),
        Index("ix_cashier_withdrawals_client_currency_created", "client_id", "currency", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int]
    currency: Mapped[str] = mapped_column(CURRENCY)
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(32))
    destination_kind: Mapped[str] = mapped_column(String(16))
    bank_account_id: Mapped[int | None]
    psp: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(KEY)
    hold_transfer_id: Mapped[int | None]
    first_approver_id: Mapped[int | None]
    second_approver_id: Mapped[int | None]
    payout_reference: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(REASON)
    fee_amount: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    """The withdrawal fee (``cashier.fees``), reserved with the amount, taken on payout, released
    with the amount on a rejection or cancellation; 0 when none is configured."""
    fee_transfer_id: Mapped[int | None] = mapped_column(default=None)
    """The pending ledger transfer (wallet -> fee revenue) that reserves the fee."""
    due_at: Mapped[datetime]
    flagged_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BankAccount(Base):
    """A bank account a client saved for withdrawals; staff verify it is in the client's name.

    There is no column for a card number, and the validator refuses anything that looks like one.
    """

    __tablename__ = "cashier_bank_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(index=True)
    holder_name: Mapped[str] = mapped_column(String(140))
    iban: Mapped[str | None] = mapped_column(String(34))
    account_number: Mapped[str | None] = mapped_column(String(34))
    bic: Mapped[str] = mapped_column(String(11))
    bank_name: Mapped[str] = mapped_column(String(140))
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(CURRENCY)
    status: Mapped[str] = mapped_column(String(16), default=BankAccountStatus.UNVERIFIED)
    verified_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PspWebhookEvent(Base):
    """Every webhook delivery, accepted or refused, with what we did about it.

    ``accepted_event_id`` is set only for deliveries that passed verification; its uniqueness is what
    makes a second delivery of one event a no-op even when two arrive at the same moment.
    """

    __tablename__ = "cashier_psp_webhook_events"
    __table_args__ = (UniqueConstraint("psp", "accepted_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    psp: Mapped[str] = mapped_column(String(32))
    accepted_event_id: Mapped[str | None] = mapped_column(String(128))
    payment_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(REASON, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class TransferKind(enum.StrEnum):
    CONVERSION = "conversion"
    """Between two of the client's wallets in different currencies, through the ledger's FX."""
    TO_TRADING = "to_trading"
    FROM_TRADING = "from_trading"
    BETWEEN_TRADING = "between_trading"


class TransferStatus(enum.StrEnum):
    DONE = "done"
    SENT = "sent"
    """The ledger side is posted (or nothing is yet, for money leaving a trading account) and the
    MT balance operation waits in the bridge's outbox."""
    UNWOUND = "unwound"
    """The server refused the operation; the ledger side was reversed back to the wallet."""
    FAILED = "failed"
    """The server refused taking money off the trading account; nothing moved."""
    REFUNDED_TO_WALLET = "refunded_to_wallet"
    """Between trading accounts: the second account refused, so the money went to the wallet."""


class InternalTransfer(Base):
    """A movement between the client's own accounts, with the rate and spread it used."""

    __tablename__ = "cashier_transfers"
    __table_args__ = (
        UniqueConstraint("client_id", "idempotency_key"),
        CheckConstraint("from_amount > 0 AND to_amount > 0", name="amounts_positive"),
        Index("ix_cashier_transfers_client_created", "client_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(24))
    from_currency: Mapped[str] = mapped_column(CURRENCY)
    from_amount: Mapped[int]
    to_currency: Mapped[str] = mapped_column(CURRENCY)
    to_amount: Mapped[int]
    spread_amount: Mapped[int] = mapped_column(default=0)
    rate_id: Mapped[int | None]
    rate: Mapped[str | None] = mapped_column(String(40))
    spread: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(24))
    idempotency_key: Mapped[str] = mapped_column(KEY)
    from_trading_account_id: Mapped[int | None]
    to_trading_account_id: Mapped[int | None]
    command_id: Mapped[int | None]
    """The bridge outbox command of the first MT balance operation."""
    second_command_id: Mapped[int | None]
    """Between trading accounts: the deposit into the second account, written once the first is done."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
