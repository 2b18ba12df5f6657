"""Password hashing (argon2id) and the password policy.

Hashing is CPU-bound by design, so callers use :func:`hash_password` and :func:`verify_password`,
which run it on a worker thread and keep the event loop free.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from core.i18n import gettext as _
from core.identity.errors import WeakPasswordError
from core.settings import Settings

COMMON_PASSWORDS_FILE = Path(__file__).parent / "common_passwords.txt"
MAX_PASSWORD_LENGTH = 256


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)


async def hash_password(settings: Settings, password: str) -> str:
    return await anyio.to_thread.run_sync(hasher(settings).hash, password)


def _verify(ph: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return ph.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(settings: Settings, password_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed hash is a mismatch, never an error."""
    return await anyio.to_thread.run_sync(_verify, hasher(settings), password_hash, password)


@lru_cache(maxsize=8)
def _reference_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash("no-such-account")


async def burn_time(settings: Settings, password: str) -> None:
    """Spend as long as a real verification when the account is unknown (no timing oracle)."""
    params = (settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)
    await anyio.to_thread.run_sync(_verify, hasher(settings), _reference_hash(*params), password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_password_policy(settings: Settings, password: str, *, email: str = "") -> None:
    """Raise :class:`WeakPasswordError` naming the first rule ``password`` breaks."""
    if len(password) < settings.password_min_length:
        raise WeakPasswordError(
            _("Use at least %(count)d characters.") % {"count": settings.password_min_length}
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(_("Use at most %(count)d characters.") % {"count": MAX_PASSWORD_LENGTH})
    lowered = password.lower()
    if lowered in common_passwords() or len(set(password)) < 4:
        raise WeakPasswordError(_("This password is too common. Choose one that is harder to guess."))
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        raise WeakPasswordError(_("Do not use your email address in your password."))
