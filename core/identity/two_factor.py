"""Turning TOTP on and off, and checking the second factor at sign-in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor, record_audit
from core.identity import totp
from core.identity.errors import InvalidTotpCodeError
from core.identity.models import RecoveryCode, User


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret, its URI as a QR code, and the URI itself."""

    secret: str
    uri: str
    qr_svg: str


def enrolment_for(user: User) -> Enrolment:
    """The pending secret of ``user`` drawn as a QR code (call :func:`begin_enrolment` first)."""
    secret = user.totp_pending_secret or ""
    uri = totp.provisioning_uri(secret, user.email)
    return Enrolment(secret=secret, uri=uri, qr_svg=totp.qr_svg(uri))


async def begin_enrolment(session: AsyncSession, user: User) -> Enrolment:
    """Give the user a fresh pending secret unless one is waiting already."""
    if not user.totp_pending_secret:
        user.totp_pending_secret = totp.new_secret()
        await session.flush()
    return enrolment_for(user)


async def confirm_enrolment(session: AsyncSession, user: User, code: str, actor: Actor) -> list[str]:
    """Turn 2FA on when ``code`` matches the pending secret; returns fresh recovery codes."""
    pending = user.totp_pending_secret
    if not pending:
        raise InvalidTotpCodeError("no enrolment in progress")
    user.totp_last_step = 0
    await totp.use_totp_code(session, user, code, secret=pending)
    user.totp_secret = pending
    user.totp_pending_secret = None
    codes = await totp.replace_recovery_codes(session, user.id)
    await record_audit(
        session,
        actor,
        "security.2fa_enabled",
        target_type="user",
        target_id=user.id,
        before={"totp_enabled": False},
        after={"totp_enabled": True},
    )
    return codes


async def disable_two_factor(session: AsyncSession, user: User, code: str, actor: Actor) -> None:
    """Turn 2FA off after a current code (or a recovery code) proves the owner is here."""
    await check_second_factor(session, user, code)
    user.totp_secret = None
    user.totp_pending_secret = None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await record_audit(
        session,
        actor,
        "security.2fa_disabled",
        target_type="user",
        target_id=user.id,
        before={"totp_enabled": True},
        after={"totp_enabled": False},
    )


async def check_second_factor(session: AsyncSession, user: User, code: str) -> str:
    """Accept a TOTP code or one recovery code; returns which was used (``totp``/``recovery``)."""
    cleaned = code.strip().replace(" ", "")
    if cleaned.isdigit() and len(cleaned) == 6:
        await totp.use_totp_code(session, user, cleaned)
        return "totp"
    await totp.use_recovery_code(session, user.id, cleaned)
    return "recovery"
