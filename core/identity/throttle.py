"""Rate limits and lockouts for sign-in, password reset, registration and 2FA.

Two limits apply to each attempt: one per IP address (many accounts from one place) and one per
account (many places at one account). Accounts are keyed by their normalised email whether or
not they exist, so a lockout reveals nothing about who is registered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from core.identity.errors import AccountLockedError, RateLimitedError
from core.security.rate_limit import RateLimiter
from core.settings import Settings


def _account_key(action: str, account: str) -> str:
    digest = hashlib.sha256(account.strip().lower().encode("utf-8")).hexdigest()[:32]
    return f"fail:{action}:{digest}"


@dataclass(frozen=True)
class Throttle:
    """The limiter plus the limits from settings."""

    limiter: RateLimiter
    settings: Settings

    @property
    def window_seconds(self) -> int:
        return self.settings.lockout_minutes * 60

    async def check_ip(self, action: str, ip: str) -> None:
        """Count one attempt from ``ip``; raise when it has made too many in the window."""
        window = await self.limiter.hit(f"ip:{action}:{ip}", self.window_seconds)
        if window.count > self.settings.ip_attempts_per_window:
            raise RateLimitedError(window.retry_after_seconds)

    async def check_account_attempts(self, action: str, account: str) -> None:
        """Count one attempt at ``account`` (a reset mail, say); raise past the per-account limit."""
        window = await self.limiter.hit(f"acct:{_account_key(action, account)}", self.window_seconds)
        if window.count > self.settings.login_max_failures:
            raise RateLimitedError(window.retry_after_seconds)

    async def check_account(self, action: str, account: str) -> None:
        """Raise while the account has failed too often in the window."""
        window = await self.limiter.peek(_account_key(action, account))
        if window.count >= self.settings.login_max_failures:
            raise AccountLockedError(window.retry_after_seconds)

    async def record_failure(self, action: str, account: str) -> None:
        """Count a failure; the one that reaches the limit locks the account at once."""
        window = await self.limiter.hit(_account_key(action, account), self.window_seconds)
        if window.count >= self.settings.login_max_failures:
            raise AccountLockedError(window.retry_after_seconds)

    async def clear_failures(self, action: str, account: str) -> None:
        await self.limiter.reset(_account_key(action, account))
