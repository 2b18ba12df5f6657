"""Identity tables: users (clients and staff), one-time tokens, recovery codes, sign-in sessions,
roles and their permissions.

Clients and staff share one table, told apart by ``kind``, so that credentials, 2FA and sessions
have one implementation; an email is unique within its kind.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

CLIENT = "client"
STAFF = "staff"


class User(Base):
    """A person who signs in: a client (portal) or a staff member (back office)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("kind", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(320))
    """Lower-cased and stripped, so look-ups are exact."""
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(16), default="en")
    is_active: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(default=None)
    referral_code: Mapped[str | None] = mapped_column(String(64), default=None)
    """The IB referral code or link the client registered with, kept for attribution."""
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    """Base32 secret once 2FA is on; ``None`` while it is off."""
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    """Secret shown during enrolment, promoted to ``totp_secret`` when a code confirms it."""
    totp_last_step: Mapped[int] = mapped_column(default=0)
    """The last accepted TOTP time step; a code is never accepted twice."""
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def has_totp(self) -> bool:
        return self.totp_secret is not None


class OneTimeToken(Base):
    """A single-use, expiring secret mailed as a link: email verification or password reset.

    Only the SHA-256 of the token is stored, so a database leak reveals no usable link.
    """

    __tablename__ = "one_time_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class RecoveryCode(Base):
    """A one-time 2FA recovery code, stored as its SHA-256."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginSession(Base):
    """One signed-in browser: listed to its owner, revocable, and ended on idle or absolute age.

    The server-side session holds this row's ``id``; revoking the row signs that browser out on
    its next request.
    """

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_id_revoked_at", "user_id", "revoked_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    app: Mapped[str] = mapped_column(String(32))
    ip: Mapped[str] = mapped_column(String(64), default="", index=True)
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    device_hash: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    """SHA-256 of the browser's device cookie (portal sign-ins), for the risk rules; never the id itself."""
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Role(Base):
    """A named group of permissions that staff hold."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    is_system: Mapped[bool] = mapped_column(default=False)
    """Seeded roles can be edited but not deleted."""


class RolePermission(Base):
    """One permission (a name from :data:`core.identity.permissions.PERMISSIONS`) granted to a role."""

    __tablename__ = "role_permissions"

    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(64), primary_key=True)


class StaffRole(Base):
    """A role held by a staff member."""

    __tablename__ = "staff_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True)
