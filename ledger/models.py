"""The ledger's tables: currencies, accounts, transfers, entries and exchange rates.

The shapes follow TigerBeetle's model. An account carries four counters (posted and pending
debits and credits) rather than a balance, so a pending transfer reserves money without moving
it. Transfers and entries are append-only (triggers in the migration refuse UPDATE and DELETE);
the account row is the only mutable thing and only :mod:`ledger.posting` writes its counters.

The database enforces what it can, so that even a bug in the posting code can't break the books:
positive amounts, different accounts, one currency per transfer (a composite foreign key onto
``accounts(id, currency)``), every entry one side of an existing transfer (a trigger), the
overdraft guard as a CHECK on the account row, unique idempotency keys and at most one resolution
per pending transfer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

CURRENCY_CODE = String(8)
KEY = String(128)

TRANSFER_KINDS = ("posted", "pending", "post_pending", "void_pending", "expire_pending", "reversal")
RESOLVING_KINDS = ("post_pending", "void_pending", "expire_pending")

# A rate is exact: NUMERIC on PostgreSQL; SQLite has no exact decimal type, so text there.
EXACT_DECIMAL = Numeric(30, 12).with_variant(String(40), "sqlite")


class Currency(Base):
    """A currency and its scale: the number of minor units digits (USD 2, JPY 0, USDT 6)."""

    __tablename__ = "currencies"
    __table_args__ = (CheckConstraint("scale >= 0 AND scale <= 18", name="scale_range"),)

    code: Mapped[str] = mapped_column(CURRENCY_CODE, primary_key=True)
    scale: Mapped[int] = mapped_column(SmallInteger)


class Account(Base):
    """One account of the books, in one currency, with its counters.

    ``normal_side`` says which side increases the balance the account reports: a client wallet
    (a liability of the broker) is credit-normal, the bank (an asset) debit-normal. The two flags
    are TigerBeetle's overdraft guards; a CHECK keeps them true under any concurrency.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("id", "currency"),
        UniqueConstraint("owner_kind", "owner_id", "purpose", "currency"),
        CheckConstraint("normal_side IN ('debit', 'credit')", name="normal_side_known"),
        CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
            name="counters_non_negative",
        ),
        CheckConstraint("version >= 0", name="version_non_negative"),
        CheckConstraint(
            "NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)",
            name="one_overdraft_flag",
        ),
        CheckConstraint(
            "(NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted)"
            " AND (NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted)",
            name="overdraft",
        ),
        # room on each page, so that a counter update stays a HOT update (no index writes)
        {"postgresql_with": {"fillfactor": 70}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(CURRENCY_CODE, ForeignKey("currencies.code"))
    owner_kind: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(48))
    normal_side: Mapped[str] = mapped_column(String(6))
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    debits_posted: Mapped[int] = mapped_column(server_default=text("0"))
    credits_posted: Mapped[int] = mapped_column(server_default=text("0"))
    debits_pending: Mapped[int] = mapped_column(server_default=text("0"))
    credits_pending: Mapped[int] = mapped_column(server_default=text("0"))
    version: Mapped[int] = mapped_column(server_default=text("0"))
    created_at: Mapped[datetime]


class Transfer(Base):
    """One movement of a positive amount from a debit account to a credit account.

    ``kind`` is ``posted`` or ``pending`` for a new movement; ``post_pending``, ``void_pending`` and
    ``expire_pending`` resolve the pending transfer named by ``pending_id`` (unique, so it resolves
    once); ``reversal`` undoes the posted transfer named by ``reverses_id`` (also unique).
    """

    __tablename__ = "transfers"
    __table_args__ = (
        ForeignKeyConstraint(["debit_account_id", "currency"], ["accounts.id", "accounts.currency"]),
        ForeignKeyConstraint(["credit_account_id", "currency"], ["accounts.id", "accounts.currency"]),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="different_accounts"),
        CheckConstraint(
            "kind IN ('posted', 'pending', 'post_pending', 'void_pending', 'expire_pending', 'reversal')",
            name="kind_known",
        ),
        CheckConstraint(
            "(kind IN ('post_pending', 'void_pending', 'expire_pending') AND pending_id IS NOT NULL)"
            " OR (kind NOT IN ('post_pending', 'void_pending', 'expire_pending') AND pending_id IS NULL)",
            name="pending_id_iff_resolution",
        ),
        CheckConstraint(
            "(kind = 'reversal' AND reverses_id IS NOT NULL) OR (kind <> 'reversal' AND reverses_id IS NULL)",
            name="reverses_id_iff_reversal",
        ),
        # Partial: most transfers resolve and reverse nothing, and a NULL needs no index entry.
        Index(
            "uq_transfers_pending_id",
            "pending_id",
            unique=True,
            postgresql_where=text("pending_id IS NOT NULL"),
            sqlite_where=text("pending_id IS NOT NULL"),
        ),
        Index(
            "uq_transfers_reverses_id",
            "reverses_id",
            unique=True,
            postgresql_where=text("reverses_id IS NOT NULL"),
            sqlite_where=text("reverses_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    journal_id: Mapped[int]
    """Transfers posted together share it (from the ``journal_ids`` sequence): all or nothing."""
    idempotency_key: Mapped[str] = mapped_column(KEY, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    debit_account_id: Mapped[int]
    credit_account_id: Mapped[int]
    currency: Mapped[str] = mapped_column(CURRENCY_CODE)
    amount: Mapped[int]
    pending_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"))
    timeout_at: Mapped[datetime | None]
    rate_id: Mapped[int | None] = mapped_column(ForeignKey("fx_rates.id"))
    code: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]


class Entry(Base):
    """One account's side of one transfer: what moved on its counters and the balance after.

    ``posted_amount`` and ``pending_amount`` are signed changes of the counters on ``side`` (a post
    of a pending debit of 100 for 80 is ``pending_amount=-100, posted_amount=80``). ``version``
    numbers an account's entries 1, 2, 3… and is half of the key ``(account_id, version)``, so the
    chain has no gaps or repeats; ``balance_after`` is the posted balance on the account's normal
    side after this entry.

    An entry has no foreign keys: a trigger checks, once per INSERT statement, that each new entry
    is the debit or credit side of an existing transfer (migration ``ledgerspeed0600`` says why).
    That is stronger than the two keys it replaced, which could not tie the entry's account to its
    transfer, and it costs one join per batch instead of four lookups per transfer.
    """

    __tablename__ = "entries"
    __table_args__ = (
        CheckConstraint("side IN ('debit', 'credit')", name="side_known"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint("posted_amount <> 0 OR pending_amount <> 0", name="moves_something"),
        Index("ix_entries_account_id_created_at", "account_id", "created_at"),
    )

    account_id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int]
    side: Mapped[str] = mapped_column(String(6))
    posted_amount: Mapped[int]
    pending_amount: Mapped[int]
    balance_after: Mapped[int]
    created_at: Mapped[datetime]


class FxRate(Base):
    """An exchange rate as observed: never edited; a new observation is a new row.

    ``rate`` is the mid price, in major units of ``quote`` per one major unit of ``base``.
    ``spread`` is the fraction of the mid the house keeps on a conversion (0.002 = 20 bp).
    """

    __tablename__ = "fx_rates"
    __table_args__ = (
        CheckConstraint("base <> quote", name="different_currencies"),
        Index("ix_fx_rates_pair_observed_at", "base", "quote", "observed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base: Mapped[str] = mapped_column(CURRENCY_CODE, ForeignKey("currencies.code"))
    quote: Mapped[str] = mapped_column(CURRENCY_CODE, ForeignKey("currencies.code"))
    rate: Mapped[Decimal] = mapped_column(EXACT_DECIMAL)
    spread: Mapped[Decimal] = mapped_column(EXACT_DECIMAL)
    source: Mapped[str] = mapped_column(String(64))
    observed_at: Mapped[datetime]
    created_at: Mapped[datetime]


__all__ = ["Account", "Currency", "Entry", "FxRate", "Transfer"]
