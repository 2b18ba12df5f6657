"""The identity error tree."""

from __future__ import annotations

from core.errors import CoreError


class IdentityError(CoreError):
    """Raised for failures in sign-up, sign-in and credentials."""


class InvalidCredentialsError(IdentityError):
    """Raised when an email and password do not match an active account (never says which)."""


class AccountLockedError(IdentityError):
    """Raised when an account has failed too often and is locked for a while."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("account temporarily locked")
        self.retry_after_seconds = retry_after_seconds


class RateLimitedError(IdentityError):
    """Raised when one IP address or account makes too many attempts in the window."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("too many attempts")
        self.retry_after_seconds = retry_after_seconds


class EmailNotVerifiedError(IdentityError):
    """Raised when a client signs in before confirming their email address."""


class WeakPasswordError(IdentityError):
    """Raised when a new password breaks the password policy; the message says which rule."""


class InvalidTokenError(IdentityError):
    """Raised when a one-time link is unknown, used already or expired."""


class InvalidTotpCodeError(IdentityError):
    """Raised when a 2FA code or recovery code is wrong, expired or used already."""


class UnknownPermissionError(IdentityError):
    """Raised when a role is given a permission that is not in the catalogue."""


class DuplicateEmailError(IdentityError):
    """Raised when staff are created with an email another staff member already has."""
