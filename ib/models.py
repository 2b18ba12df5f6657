"""The IB tables: partners, the effective-dated tree, attribution, schemes, deals, lines, payouts.

Nothing that explains a published commission is ever edited in place: tree edges and client links
are closed (``valid_to``) and replaced, scheme versions are new rows, and a commission line's
amount changes only together with a ledger posting of the difference. Lots are stored as integers
of 1e-8 lot (the MT5 ``VolumeExt`` precision) so no float or inexact decimal type touches them.
Client ids are plain integers until identity's user table is merged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base

CURRENCY = String(8)


class Partner(Base):
    """A client with an IB profile. ``since`` is when commissions start to be earned."""

    __tablename__ = "ib_partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    since: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Application(Base):
    """A request to become an IB, made by the client or on its behalf by staff."""

    __tablename__ = "ib_application"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status_known"),
        Index(
            "uq_ib_application_pending_client",
            "client_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    message: Mapped[str] = mapped_column(Text, default="")
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("ib_partner.id"))


class Rank(Base):
    """An IB rank; ``position`` orders them (higher is senior) for the rank-differential rule."""

    __tablename__ = "ib_rank"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(unique=True)


class Scheme(Base):
    """A named commission scheme in one currency; its rules live in versions."""

    __tablename__ = "ib_scheme"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(CURRENCY)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SchemeVersion(Base):
    """The rules of a scheme from ``effective_from`` on. Drafts are only seen by dry-run recomputes."""

    __tablename__ = "ib_scheme_version"
    __table_args__ = (
        UniqueConstraint("scheme_id", "version"),
        CheckConstraint("status IN ('draft', 'published', 'superseded')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("ib_scheme.id"))
    version: Mapped[int]
    effective_from: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]


class Rule(Base):
    """One rule of a scheme version, for an account type * (symbol group or symbol), or any."""

    __tablename__ = "ib_rule"
    __table_args__ = (
        UniqueConstraint("scheme_version_id", "code"),
        UniqueConstraint("id", "scheme_version_id"),  # what a commission line names its rule by
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_version_id: Mapped[int] = mapped_column(ForeignKey("ib_scheme_version.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    account_type: Mapped[str | None] = mapped_column(String(64))
    symbol_group: Mapped[str | None] = mapped_column(String(64))
    symbol: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON)


class PartnerTerms(Base):
    """Which scheme and rank a partner has from ``effective_from`` on (set at approval, changed later)."""

    __tablename__ = "ib_partner_terms"
    __table_args__ = (UniqueConstraint("partner_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("ib_partner.id"), index=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("ib_scheme.id"))
    rank_code: Mapped[str | None] = mapped_column(ForeignKey("ib_rank.code"))
    effective_from: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerEdge(Base):
    """A sub-IB under a parent IB during [valid_from, valid_to); a move closes one and opens another."""

    __tablename__ = "ib_partner_edge"
    __table_args__ = (
        CheckConstraint("partner_id <> parent_id", name="not_own_parent"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="interval_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("ib_partner.id"), index=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("ib_partner.id"), index=True)
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferralLink(Base):
    """A referral link or code of an IB, with its campaign tag and counters."""

    __tablename__ = "ib_referral_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("ib_partner.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    campaign: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    clicks: Mapped[int] = mapped_column(default=0)
    registrations: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClientLink(Base):
    """A client attributed to an IB during [valid_from, valid_to); one open link per client."""

    __tablename__ = "ib_client_link"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="interval_ordered"),
        Index(
            "uq_ib_client_link_open",
            "client_id",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
            sqlite_where=text("valid_to IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("ib_partner.id"), index=True)
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(16))
    referral_link_id: Mapped[int | None] = mapped_column(ForeignKey("ib_referral_link.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TradingAccount(Base):
    """What the engine must know about a login: whose it is, its account type and currency."""

    __tablename__ = "ib_trading_account"
    __table_args__ = (UniqueConstraint("server", "login"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    server: Mapped[str] = mapped_column(String(64))
    login: Mapped[int]
    client_id: Mapped[int] = mapped_column(index=True)
    account_type: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(CURRENCY)


class SymbolSpec(Base):
    """A canonical symbol's group and digits (the spread-share rule prices a point with them)."""

    __tablename__ = "ib_symbol"

    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol_group: Mapped[str] = mapped_column(String(64))
    digits: Mapped[int]


class Allocation(Base):
    """Part of a giver's per-lot rate under one rule code passed on to a direct sub-IB, from a date."""

    __tablename__ = "ib_allocation"
    __table_args__ = (
        UniqueConstraint("giver_id", "receiver_id", "rule_code", "effective_from"),
        CheckConstraint("amount_per_lot >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    giver_id: Mapped[int] = mapped_column(ForeignKey("ib_partner.id"))
    receiver_id: Mapped[int] = mapped_column(ForeignKey("ib_partner.id"), index=True)
    rule_code: Mapped[str] = mapped_column(String(64))
    amount_per_lot: Mapped[int]
    effective_from: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClientDeposit(Base):
    """A referred client's first deposit, which the CPA rule's qualification looks at."""

    __tablename__ = "ib_client_deposit"

    client_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(CURRENCY)
    deposited_at: Mapped[datetime]


class StoredDeal(Base):
    """A trade deal as the engine last saw it; ``fingerprint`` tells a redelivery from an edit."""

    __tablename__ = "ib_deal"
    __table_args__ = (
        UniqueConstraint("server", "ticket"),
        Index("ix_ib_deal_time", "time"),
        Index("ix_ib_deal_position", "server", "position_id"),
        Index("ix_ib_deal_client_time", "client_id", "time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    server: Mapped[str] = mapped_column(String(64))
    ticket: Mapped[int]
    login: Mapped[int]
    client_id: Mapped[int]
    position_id: Mapped[int]
    action: Mapped[int]
    entry: Mapped[int]
    symbol: Mapped[str] = mapped_column(String(64))
    volume_closed: Mapped[int]
    """1e-8 lots."""
    contract_size: Mapped[str] = mapped_column(String(32))
    profit: Mapped[int]
    commission: Mapped[int]
    currency_digits: Mapped[int]
    time: Mapped[datetime]
    fingerprint: Mapped[str] = mapped_column(String(64))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


PAID_CPA = "kind = 'cpa' AND amount > 0"
"""The condition of the CPA-paid index, as SQL text: a query must say it with the same constants to
use the index. Bound parameters would not do: from a prepared statement's sixth run PostgreSQL
plans it generically, cannot prove the index's condition, and reads every line instead."""


class CommissionLine(Base):
    """What one beneficiary earned from one deal under one rule, with everything that explains it.

    A line has no foreign keys: triggers check, once per INSERT statement on PostgreSQL, that its
    deal, its beneficiary and its rule *of its scheme version* exist, and refuse deleting (or
    re-keying) a deal, partner or rule a line names (migration ``ibspeed_0700`` says why: the
    engine writes some sixteen lines per deal, and three row-by-row lookups per line were most
    of the cost of writing them).
    """

    __tablename__ = "ib_commission_line"
    __table_args__ = (
        Index("ix_ib_commission_line_beneficiary_time", "beneficiary_id", "deal_time"),
        # Lines arrive in deal-time order, so a block-range index finds a period's lines for a
        # fraction of a B-tree's upkeep on every line written (SQLite, without BRIN, keeps a B-tree).
        Index(
            "ix_ib_commission_line_deal_time",
            "deal_time",
            postgresql_using="brin",
            postgresql_with={"autosummarize": "on"},
        ),
        # The CPAs already paid, which the engine looks up by trader for every batch: a handful of
        # lines among millions, so a partial index costs the other lines nothing.
        Index(
            "ix_ib_commission_line_cpa_paid",
            "trader_client_id",
            postgresql_where=text(PAID_CPA),
            sqlite_where=text(PAID_CPA),
        ),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint(
            "basis_id IS NOT NULL OR (inputs IS NOT NULL AND formula IS NOT NULL)", name="explained"
        ),
    )

    deal_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    beneficiary_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    rule_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    """A line is named by its deal, its beneficiary and its rule, the key that makes it unique: a
    surrogate id would cost every line written a sequence number and a second B-tree (about a
    fifth of PostgreSQL's work per line; migration ``lines_1000``)."""
    scheme_version_id: Mapped[int]
    rule_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[int]
    rank_code: Mapped[str | None] = mapped_column(String(32))
    trader_client_id: Mapped[int]
    deal_time: Mapped[datetime]
    currency: Mapped[str] = mapped_column(CURRENCY)
    amount: Mapped[int]
    basis_id: Mapped[int | None]
    """The shared provenance (:class:`LineBasis`) of a planned rule's line; ``inputs`` and
    ``formula``, when set, are the line's own (and win over the basis's: a line that no longer
    applies keeps its basis's inputs under a formula that says so)."""
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    formula: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(default=1)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class LineBasis(Base):
    """What explains every line of one plan but the deal itself: a rule kind's ``explain``
    arguments and the symbol's digits (see :mod:`ib.line_basis`). Its id is a hash of that content;
    rows are only ever added."""

    __tablename__ = "ib_line_basis"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    arguments: Mapped[str] = mapped_column(Text)
    symbol_digits: Mapped[int | None]


class RecomputeRun(Base):
    """A recompute of a period: its per-IB diff, computed dry, and whether it was published.

    Requested from the back office it is ``computing`` until the job ``ib.compute_dry_run`` has
    stored its diff (a month of a million deals takes a minute or two: no web request waits)."""

    __tablename__ = "ib_recompute_run"
    __table_args__ = (
        CheckConstraint("status IN ('computing', 'dry_run', 'published')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    draft_version_id: Mapped[int | None] = mapped_column(ForeignKey("ib_scheme_version.id"))
    status: Mapped[str] = mapped_column(String(16), default="dry_run")
    diff: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]


class PayoutPolicy(Base):
    """How and when an IB is paid: instant, daily or monthly; a minimum; an optional review hold."""

    __tablename__ = "ib_payout_policy"
    __table_args__ = (
        CheckConstraint("frequency IN ('instant', 'daily', 'monthly')", name="frequency_known"),
        CheckConstraint("minimum_amount >= 0", name="minimum_not_negative"),
    )

    partner_id: Mapped[int] = mapped_column(ForeignKey("ib_partner.id"), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(16))
    minimum_amount: Mapped[int]
    hold_for_review: Mapped[bool] = mapped_column(Boolean, default=False)


class Payout(Base):
    """Money moved (or held) from an IB's commission payable to its wallet."""

    __tablename__ = "ib_payout"
    __table_args__ = (
        CheckConstraint("status IN ('held', 'paid', 'rejected')", name="status_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("ib_partner.id"), index=True)
    currency: Mapped[str] = mapped_column(CURRENCY)
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    ledger_key: Mapped[str] = mapped_column(String(128), unique=True)
    transfer_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
