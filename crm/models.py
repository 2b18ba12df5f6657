"""The CRM tables: each staff member's data scope and each client's owner.

A staff member without a scope row sees every client (the default for a broker's own staff); a
``team`` or ``own`` scope narrows the client list, the 360 view and the leads to what they or their
team own. Ownership is one row per client, replaced on reassignment (the audit log keeps the history).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base


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
