"""Single-use, expiring tokens for mailed links (email verification, password reset).

The link carries a random token; the table keeps only its SHA-256. Consuming is one conditional
UPDATE, so two clicks racing each other can't both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.identity.errors import InvalidTokenError
from core.identity.models import OneTimeToken

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name, not a secret
TOKEN_BYTES = 32


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def issue_token(session: AsyncSession, user_id: int, purpose: str, lifetime: timedelta) -> str:
    """Store a new token's digest and return the token itself, to be mailed once."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = clock.utcnow()
    session.add(
        OneTimeToken(
            user_id=user_id,
            purpose=purpose,
            token_hash=token_digest(token),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return token


async def consume_token(session: AsyncSession, token: str, purpose: str) -> int:
    """Mark the token used and return its user id; raise if it is unknown, used or expired."""
    now = clock.utcnow()
    user_id: int | None = await session.scalar(
        update(OneTimeToken)
        .where(
            OneTimeToken.token_hash == token_digest(token),
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(OneTimeToken.user_id)
    )
    if user_id is None:
        raise InvalidTokenError("this link is invalid, used already or expired")
    return user_id


async def peek_token(session: AsyncSession, token: str, purpose: str) -> int | None:
    """The user id of a still usable token without using it (to show the reset form)."""
    return await session.scalar(
        select(OneTimeToken.user_id).where(
            OneTimeToken.token_hash == token_digest(token),
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > clock.utcnow(),
        )
    )


async def revoke_tokens(session: AsyncSession, user_id: int, purpose: str) -> None:
    """Use up every outstanding token of ``purpose`` (a new reset link voids older ones)."""
    await session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user_id,
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=clock.utcnow())
    )
