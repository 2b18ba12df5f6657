"""Sign-in sessions: one row per signed-in browser, listed to its owner and revocable.

A session ends when its owner revokes it, signs out, changes their password (the others end), is
idle longer than the idle limit, or is older than the absolute limit, whatever comes first.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.identity.models import LoginSession, User
from core.settings import Settings

TOUCH_EVERY = timedelta(seconds=60)
"""``last_seen_at`` is written at most this often, so browsing does not write on every request."""
USER_AGENT_LIMIT = 400


@dataclass(frozen=True)
class Client:
    """Where a request comes from, as recorded on sessions and audit events."""

    ip: str = ""
    user_agent: str = ""


async def open_login_session(
    session: AsyncSession, user: User, app: str, client: Client, *, device_hash: str | None = None
) -> LoginSession:
    now = clock.utcnow()
    row = LoginSession(
        id=secrets.token_urlsafe(24),
        user_id=user.id,
        app=app,
        ip=client.ip,
        user_agent=client.user_agent[:USER_AGENT_LIMIT],
        device_hash=device_hash,
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    user.last_login_at = now
    await session.flush()
    return row


def is_expired(settings: Settings, row: LoginSession) -> bool:
    now = clock.utcnow()
    idle = now - clock.as_utc(row.last_seen_at) > timedelta(minutes=settings.session_idle_minutes)
    too_old = now - clock.as_utc(row.created_at) > timedelta(hours=settings.session_absolute_hours)
    return idle or too_old


async def active_login(
    session: AsyncSession, settings: Settings, login_session_id: str, app: str
) -> tuple[LoginSession, User] | None:
    """The session row and its user when the session is still valid; touches ``last_seen_at``."""
    found = (
        await session.execute(
            select(LoginSession, User)
            .outerjoin(User, User.id == LoginSession.user_id)
            .where(LoginSession.id == login_session_id)
        )
    ).first()  # one round trip for both rows: every signed-in request asks
    if found is None:
        return None
    row, user = found
    if row.app != app or row.revoked_at is not None:
        return None
    if user is None or not user.is_active:
        return None
    if is_expired(settings, row):
        row.revoked_at = clock.utcnow()
        return None
    now = clock.utcnow()
    if now - clock.as_utc(row.last_seen_at) > TOUCH_EVERY:
        row.last_seen_at = now
    return row, user


async def list_login_sessions(
    session: AsyncSession, settings: Settings, user_id: int, app: str
) -> Sequence[LoginSession]:
    rows = await session.scalars(
        select(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.app == app, LoginSession.revoked_at.is_(None))
        .order_by(LoginSession.created_at.desc())
    )
    return [row for row in rows if not is_expired(settings, row)]


async def revoke_login_session(session: AsyncSession, user_id: int, login_session_id: str) -> bool:
    """Revoke one of the user's own sessions; another user's session id changes nothing."""
    revoked = await session.scalar(
        update(LoginSession)
        .where(
            LoginSession.id == login_session_id,
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
        )
        .values(revoked_at=clock.utcnow())
        .returning(LoginSession.id)
    )
    return revoked is not None


async def revoke_other_sessions(session: AsyncSession, user_id: int, keep: str | None) -> None:
    """End every session of the user except ``keep`` (``None`` ends them all)."""
    query = update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(LoginSession.id != keep)
    await session.execute(query.values(revoked_at=clock.utcnow()))
