"""The CRM tables: each staff member's data scope and each client's owner, the tag catalogue and
client tags, saved segments, and the search indexes the client list needs.

A staff member without a scope row sees every client (the default for a broker's own staff); a
``team`` or ``own`` scope narrows the client list, the 360 view and the leads to what they or their
team own. Ownership is one row per client, replaced on reassignment (the audit log keeps the history).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base
from core.identity.models import User
from kyc.models import KycProfileVersion
from mt_bridge.models import TradingAccount


class StaffScope(Base):
    """How much of the client base one staff member may see: ``all``, their ``team``'s or their ``own``."""

    __tablename__ = "crm_staff_scope"
    __table_args__ = (
        CheckConstraint("kind IN ('all', 'team', 'own')", name="kind_known"),
        CheckConstraint("kind <> 'team' OR team <> ''", name="team_scope_names_team"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    team: Mapped[str] = mapped_column(String(64), default="", index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClientOwner(Base):
    """The staff member a client is assigned to (their sales or account manager)."""

    __tablename__ = "crm_client_owner"

    client_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tag(Base):
    """A label in the tag catalogue (``VIP``, ``Arabic desk`` …) with the colour its chip shows."""

    __tablename__ = "crm_tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    colour: Mapped[str] = mapped_column(String(7))
    """``#rrggbb``."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClientTag(Base):
    """One tag on one client."""

    __tablename__ = "crm_client_tag"

    client_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("crm_tag.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    tagged_by: Mapped[int | None] = mapped_column(default=None)
    tagged_at: Mapped[datetime] = mapped_column(default=utcnow)


class Segment(Base):
    """A saved client-list filter: a name and the list's query string, private or shared."""

    __tablename__ = "crm_segment"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(1000))
    """The client list's filter as a normalised query string (``kyc=approved&tag=3``)."""
    shared: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _trigram(name: str, column: Any) -> Index:
    """A trigram index on PostgreSQL (``ILIKE '%x%'`` uses it); a plain index on SQLite."""
    return Index(name, column, postgresql_using="gin", postgresql_ops={column.name: "gin_trgm_ops"})


_users = User.__table__.c
_profiles = KycProfileVersion.__table__.c
SEARCH_INDEXES = (
    _trigram("ix_crm_users_email_trgm", _users.email),
    _trigram("ix_crm_users_display_name_trgm", _users.display_name),
    Index("ix_crm_users_kind_created", _users.kind, _users.created_at, _users.id),
    _trigram("ix_crm_profile_first_name_trgm", _profiles.first_name),
    _trigram("ix_crm_profile_last_name_trgm", _profiles.last_name),
    _trigram("ix_crm_profile_phone_trgm", _profiles.phone),
    Index("ix_crm_profile_country", _profiles.country_of_residence, _profiles.client_id, _profiles.version),
    Index("ix_crm_trading_account_login", TradingAccount.__table__.c.login),
)
"""Indexes the client search needs on other packages' tables (users, KYC profiles, trading
accounts); they are declared here, beside the search that uses them, and built by migration
clients_0710."""
