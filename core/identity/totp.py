"""TOTP second factor: secrets, codes that are never accepted twice, QR codes and recovery codes.

The QR code is drawn locally (segno, SVG), so the secret never leaves the server for a
third-party image service.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import time

import pyotp
import segno
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.identity.errors import InvalidTotpCodeError
from core.identity.models import RecoveryCode, User

ISSUER = "BrokerDesk"
STEP_SECONDS = 30
VALID_WINDOW = 1
"""Steps accepted either side of now, for clocks a little off."""
RECOVERY_CODE_COUNT = 10


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """An inline SVG of the QR code for ``uri``, drawn here (no outside service)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, svgns=True, title="QR")
    return buffer.getvalue().decode("utf-8")


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code equals ``code`` within the valid window, or ``None``."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


async def use_totp_code(session: AsyncSession, user: User, code: str, *, secret: str | None = None) -> None:
    """Accept ``code`` once: the step must be later than the last accepted one.

    The check and the write are one conditional UPDATE, so a code replayed concurrently fails.
    """
    secret = secret or user.totp_secret
    step = matching_step(secret, code) if secret else None
    if step is None:
        raise InvalidTotpCodeError("wrong code")
    accepted = await session.scalar(
        update(User)
        .where(User.id == user.id, User.totp_last_step < step)
        .values(totp_last_step=step)
        .returning(User.id)
    )
    if accepted is None:
        raise InvalidTotpCodeError("code used already")
    user.totp_last_step = step


def _code_digest(code: str) -> str:
    normalised = code.strip().replace("-", "").replace(" ", "").lower()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def _new_recovery_code() -> str:
    raw = secrets.token_hex(5)
    return f"{raw[:5]}-{raw[5:]}"


async def replace_recovery_codes(session: AsyncSession, user_id: int) -> list[str]:
    """Drop the old codes and store fresh ones; returns the codes in clear, shown once."""
    for old in await session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id)):
        await session.delete(old)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(RecoveryCode(user_id=user_id, code_hash=_code_digest(code)) for code in codes)
    await session.flush()
    return codes


async def use_recovery_code(session: AsyncSession, user_id: int, code: str) -> None:
    """Spend one recovery code; raise if it is unknown or spent."""
    used = await session.scalar(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == _code_digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=clock.utcnow())
        .returning(RecoveryCode.id)
    )
    if used is None:
        raise InvalidTotpCodeError("wrong recovery code")


async def remaining_recovery_codes(session: AsyncSession, user_id: int) -> int:
    rows = await session.scalars(
        select(RecoveryCode.id).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return len(list(rows))
