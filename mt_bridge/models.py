"""mt_bridge tables: products (servers, groups, account types, symbols), trading accounts, the
command outbox, mirrored deals and positions, sync state and reconciliation differences.

Decimals (lots, prices, contract sizes) are stored as text so SQLite keeps them exact; money is
BIGINT minor units of the deposit currency.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from core.clock import utcnow
from core.db import Base


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    return Enum(kind, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


def decimal_text(value: Decimal) -> str:
    """A decimal's exact positional text (``0.0000001``, never ``1E-7``), as ``DecimalText`` stores it.

    ``str`` is four times quicker than ``format(value, "f")`` and gives the same text whenever it
    writes no exponent, which is the usual case; bulk writers (COPY) call this per value.
    """
    text = str(value)
    return format(value, "f") if "E" in text else text


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal stored as its text (SQLite's NUMERIC would round it through a float)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else decimal_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class Platform(enum.StrEnum):
    MT5 = "mt5"
    MT4 = "mt4"
    MT5_TERMINAL = "mt5_terminal"


class TradingAccountStatus(enum.StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    OPENING = "opening"
    ACTIVE = "active"
    REJECTED = "rejected"
    FAILED = "failed"


class CommandKind(enum.StrEnum):
    CREATE_ACCOUNT = "create_account"
    CHANGE_LEVERAGE = "change_leverage"
    CHANGE_GROUP = "change_group"
    CHANGE_PASSWORD = "change_password"  # noqa: S105 - a command kind, not a password
    BALANCE_OPERATION = "balance_operation"


class CommandStatus(enum.StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    """Staff must approve before it is sent (a live account, a leverage above the automatic limit)."""
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    """The server refused it; nothing was applied. Staff may retry or cancel."""
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class DifferenceKind(enum.StrEnum):
    AMOUNT_MISMATCH = "amount_mismatch"
    MISSING_IN_LEDGER = "missing_in_ledger"
    MISSING_ON_SERVER = "missing_on_server"


class TradingServer(Base):
    """One MT4/MT5 server the CRM talks to; the manager password is sealed with the secrets box."""

    __tablename__ = "mt_server"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[Platform] = mapped_column(_enum(Platform, "mt_platform"))
    address: Mapped[str] = mapped_column(String(200))
    manager_login: Mapped[int]
    manager_password_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    time_offset_minutes: Mapped[int] = mapped_column(default=0)
    login_range_start: Mapped[int]
    """Logins the CRM opens are ``login_range_start + command id``: known before the call, so an
    account creation whose answer was lost is found by its login."""
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TradingGroup(Base):
    """A group on a server: its deposit currency and leverage limits."""

    __tablename__ = "mt_group"
    __table_args__ = (
        UniqueConstraint("server_id", "name"),
        CheckConstraint("leverage_min >= 1 AND leverage_max >= leverage_min", name="leverage_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mt_server.id"))
    name: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(8))
    currency_digits: Mapped[int] = mapped_column(default=2)
    leverage_min: Mapped[int] = mapped_column(default=1)
    leverage_max: Mapped[int] = mapped_column(default=500)


class AccountType(Base):
    """What a client can open: a group on a server, with leverage options and deposit rules."""

    __tablename__ = "mt_account_type"
    __table_args__ = (CheckConstraint("min_deposit >= 0 AND demo_deposit >= 0", name="deposits"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    server_id: Mapped[int] = mapped_column(ForeignKey("mt_server.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("mt_group.id"))
    currency: Mapped[str] = mapped_column(String(8))
    leverage_options: Mapped[list[int]] = mapped_column(JSON)
    auto_leverage_max: Mapped[int]
    """Leverage changes up to this are applied at once; above it they wait for staff approval."""
    min_deposit: Mapped[int] = mapped_column(default=0)
    demo_deposit: Mapped[int] = mapped_column(default=0)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class SymbolGroup(Base):
    """A family of symbols (forex majors, metals) that commission rules and reports address."""

    __tablename__ = "mt_symbol_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class TradingSymbol(Base):
    """A canonical symbol; ``aliases`` are the names servers use for it (``XAUUSD.m``)."""

    __tablename__ = "mt_symbol"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    symbol_group_id: Mapped[int | None] = mapped_column(ForeignKey("mt_symbol_group.id"))
    contract_size: Mapped[Decimal] = mapped_column(DecimalText())
    digits: Mapped[int]
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class TradingAccount(Base):
    """A client's account on a server, with its money as of the last sync."""

    __tablename__ = "mt_trading_account"
    __table_args__ = (UniqueConstraint("server_id", "login"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(index=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mt_server.id"))
    account_type_id: Mapped[int] = mapped_column(ForeignKey("mt_account_type.id"))
    login: Mapped[int | None]
    group_name: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(8))
    currency_digits: Mapped[int] = mapped_column(default=2)
    leverage: Mapped[int]
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[TradingAccountStatus] = mapped_column(_enum(TradingAccountStatus, "mt_account_status"))
    ledger_account_id: Mapped[int | None]
    """The ledger's trading-account liability for this login (live accounts only)."""
    balance: Mapped[int] = mapped_column(default=0)
    credit: Mapped[int] = mapped_column(default=0)
    equity: Mapped[int] = mapped_column(default=0)
    margin: Mapped[int] = mapped_column(default=0)
    margin_free: Mapped[int] = mapped_column(default=0)
    synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Command(Base):
    """One operation intended for a server, written before anything is sent (the outbox).

    Its tag ``BD#<id>`` travels in the MT comment, so after a lost answer the worker can look on
    the server for what it did. ``secret_sealed`` holds a password until the command is done.
    """

    __tablename__ = "mt_command"
    __table_args__ = (Index("ix_mt_command_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mt_server.id"))
    trading_account_id: Mapped[int | None] = mapped_column(ForeignKey("mt_trading_account.id"))
    kind: Mapped[CommandKind] = mapped_column(_enum(CommandKind, "mt_command_kind"))
    status: Mapped[CommandStatus] = mapped_column(_enum(CommandStatus, "mt_command_status"))
    request_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    """The caller's idempotency key: asking twice with it gives the same command."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    counter_account_id: Mapped[int | None]
    """For a balance operation: the ledger account on the other side when its deal is posted."""
    attempts: Mapped[int] = mapped_column(default=0)
    maybe_applied: Mapped[bool] = mapped_column(Boolean, default=False)
    """An earlier attempt may have reached the server: look there before sending again."""
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]


class MirroredDeal(Base):
    """A deal as last seen on its server, and how much of its money the ledger already holds.

    ``posted_*`` are what was posted; a sync that sees other figures (an edit, a delete) posts the
    difference. ``revision`` counts money changes and is part of the ledger idempotency key.
    """

    __tablename__ = "mt_deal"
    __table_args__ = (
        UniqueConstraint("server_id", "ticket"),
        Index("ix_mt_deal_server_time", "server_id", "time"),
        Index("ix_mt_deal_to_post", "server_id", "needs_posting"),
        Index("ix_mt_deal_time", "time"),  # the reports read deals by time across servers
        Index("ix_mt_deal_server_login_time", "server_id", "login", "time"),  # an account's deals
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mt_server.id"))
    ticket: Mapped[int]
    login: Mapped[int]
    order: Mapped[int] = mapped_column("order_ticket")
    position_id: Mapped[int]
    action: Mapped[int]
    entry: Mapped[int]
    symbol: Mapped[str] = mapped_column(String(32))
    raw_symbol: Mapped[str] = mapped_column(String(32))
    volume: Mapped[Decimal] = mapped_column(DecimalText())
    volume_closed: Mapped[Decimal] = mapped_column(DecimalText())
    price: Mapped[Decimal] = mapped_column(DecimalText())
    profit: Mapped[int]
    commission: Mapped[int]
    swap: Mapped[int]
    fee: Mapped[int]
    currency_digits: Mapped[int]
    time: Mapped[datetime]
    time_msc: Mapped[int]
    comment: Mapped[str] = mapped_column(String(64))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(default=0)
    needs_posting: Mapped[bool] = mapped_column(Boolean, default=True)
    posted_profit: Mapped[int] = mapped_column(default=0)
    posted_commission: Mapped[int] = mapped_column(default=0)
    posted_swap: Mapped[int] = mapped_column(default=0)
    posted_fee: Mapped[int] = mapped_column(default=0)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


class MirroredPosition(Base):
    """An open position as of the last sync; closed ones are removed."""

    __tablename__ = "mt_position"
    __table_args__ = (UniqueConstraint("server_id", "ticket"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mt_server.id"))
    ticket: Mapped[int]
    login: Mapped[int] = mapped_column(index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[int]
    volume: Mapped[Decimal] = mapped_column(DecimalText())
    price_open: Mapped[Decimal] = mapped_column(DecimalText())
    price_current: Mapped[Decimal] = mapped_column(DecimalText())
    profit: Mapped[int]
    swap: Mapped[int]
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SyncState(Base):
    """Per server: the deal watermark, the lease that keeps one sync at a time, and health."""

    __tablename__ = "mt_sync_state"

    server_id: Mapped[int] = mapped_column(ForeignKey("mt_server.id"), primary_key=True, autoincrement=False)
    watermark: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_run_at: Mapped[datetime | None]
    last_rescan_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


class ReconciliationRun(Base):
    """One comparison of every login's ledger balance with its server's balance."""

    __tablename__ = "mt_reconciliation_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mt_server.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    compared: Mapped[int] = mapped_column(default=0)
    difference_count: Mapped[int] = mapped_column(default=0)


class ReconciliationDifference(Base):
    """A login whose ledger balance and server balance disagree; for a person to explain."""

    __tablename__ = "mt_reconciliation_difference"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("mt_reconciliation_run.id"), index=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mt_server.id"))
    login: Mapped[int]
    currency: Mapped[str] = mapped_column(String(8))
    ledger_balance: Mapped[int]
    server_balance: Mapped[int]
    kind: Mapped[DifferenceKind] = mapped_column(_enum(DifferenceKind, "mt_difference_kind"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def table_of(model: type[Base]) -> Table:
    """A model's Core table, typed as one (for bulk statements that bypass the ORM)."""
    return cast(Table, model.__table__)
