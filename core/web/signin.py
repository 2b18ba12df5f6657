"""The sign-in steps both apps walk through: password, then second factor or TOTP enrolment.

Each step applies the rate limits and lockout, writes the audit events (failures commit in a
transaction of their own) and tells the controller what comes next; controllers only render.
Messages are English msgids that the templates translate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.response import Template

from core.audit.service import record_audit
from core.identity import accounts, two_factor
from core.identity.errors import (
    AccountLockedError,
    EmailNotVerifiedError,
    InvalidCredentialsError,
    InvalidTotpCodeError,
    RateLimitedError,
)
from core.identity.models import STAFF, User
from core.web.auth import (
    STAGE_ENROL,
    STAGE_TOTP,
    actor_for,
    begin_pending,
    client_of,
    complete_sign_in,
    pending_user_id,
    throttle_for,
)
from core.web.forms import form_fields
from core.web.language import safe_next
from core.web.state import app_services

WRONG_PASSWORD = "Wrong email or password."  # noqa: S105 - a message, not a secret
ACCOUNT_LOCKED = "Too many failed attempts. This account is locked for %(minutes)s minutes."
IP_LIMITED = "Too many attempts from your network. Please wait %(minutes)s minutes and try again."
NOT_VERIFIED = "Please confirm your email address first. We have sent you a new confirmation link."
WRONG_CODE = "Wrong code, or a code that was used already."
SIGN_IN_AGAIN = "Your sign-in took too long. Please start again."

DONE = "done"


@dataclass
class Step:
    """The outcome of one sign-in step: an error to show, or the stage that comes next."""

    next_stage: str = ""
    error: str = ""
    error_args: dict[str, Any] = field(default_factory=dict)
    status_code: int = 200
    user: User | None = None

    @property
    def ok(self) -> bool:
        return not self.error


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def limited(exc: RateLimitedError | AccountLockedError) -> Step:
    message = IP_LIMITED if isinstance(exc, RateLimitedError) else ACCOUNT_LOCKED
    return Step(error=message, error_args={"minutes": _minutes(exc.retry_after_seconds)}, status_code=429)


async def _audit_alone(
    request: Request[Any, Any, Any], user: User | None, action: str, **values: Any
) -> None:
    """Write a security event in its own transaction, so it stays even when the attempt fails."""
    async with app_services(request.app).database.transaction() as session:
        await record_audit(session, actor_for(request, user), action, **values)


async def password_step(request: Request[Any, Any, Any], kind: str, email: str, password: str) -> Step:
    """Check email and password; next is ``done``, ``totp`` or (staff without 2FA) ``enrol``."""
    services = app_services(request.app)
    throttle = throttle_for(request)
    account = accounts.normalise_email(email)
    try:
        await throttle.check_ip("login", client_of(request).ip)
        await throttle.check_account("login", account)
    except (RateLimitedError, AccountLockedError) as exc:
        await _audit_alone(
            request, None, "security.login_throttled", target_type="email", target_id=account[:64]
        )
        return limited(exc)
    async with services.database.write_transaction() as session:
        try:
            user = await accounts.authenticate(session, services.settings, kind, account, password)
        except EmailNotVerifiedError:
            unverified = await accounts.find_user(session, kind, account)
            if unverified is not None:
                await accounts.send_verification(session, services.settings, unverified)
            return Step(error=NOT_VERIFIED, status_code=403)
        except InvalidCredentialsError:
            user = None
    if user is None:
        await _audit_alone(
            request, None, "security.login_failed", target_type="email", target_id=account[:64]
        )
        try:
            await throttle.record_failure("login", account)
        except AccountLockedError as exc:
            return limited(exc)
        return Step(error=WRONG_PASSWORD, status_code=400)
    await throttle.clear_failures("login", account)
    if user.has_totp:
        begin_pending(request, user, STAGE_TOTP)
        return Step(next_stage=STAGE_TOTP, user=user)
    if kind == STAFF:
        begin_pending(request, user, STAGE_ENROL)
        return Step(next_stage=STAGE_ENROL, user=user)
    return await _finish(request, user, method="password")


@dataclass(frozen=True)
class LoginAttempt:
    """The sign-in form as submitted: where to go afterwards, the email typed, the password step."""

    target: str
    email: str
    step: Step

    def form_again(self) -> Template:
        """The sign-in page once more, with the step's error and the email kept."""
        context = {
            "next": self.target,
            "email": self.email,
            "error": self.step.error,
            "error_args": self.step.error_args,
        }
        return Template("auth/login.html", context=context, status_code=self.step.status_code)


async def login_from_form(request: Request[Any, Any, Any], kind: str) -> LoginAttempt:
    """Read the sign-in form of either app and run the password step for ``kind``."""
    form = await form_fields(request)
    email = form.get("email", "")
    step = await password_step(request, kind, email, form.get("password", ""))
    return LoginAttempt(target=safe_next(form.get("next")), email=email, step=step)


async def _finish(request: Request[Any, Any, Any], user: User, method: str) -> Step:
    async with app_services(request.app).database.transaction() as session:
        fresh = await session.get_one(User, user.id)
        await complete_sign_in(request, session, fresh)
        await record_audit(
            session,
            actor_for(request, fresh),
            "security.login",
            target_type="user",
            target_id=fresh.id,
            after={"method": method},
        )
    return Step(next_stage=DONE, user=user)


async def second_factor_step(request: Request[Any, Any, Any], code: str) -> Step:
    """Check the TOTP or recovery code of a half-finished sign-in."""
    user_id = pending_user_id(request, STAGE_TOTP)
    if user_id is None:
        return Step(error=SIGN_IN_AGAIN, status_code=400)
    services = app_services(request.app)
    throttle = throttle_for(request)
    account = f"user:{user_id}"
    try:
        await throttle.check_ip("2fa", client_of(request).ip)
        await throttle.check_account("2fa", account)
    except (RateLimitedError, AccountLockedError) as exc:
        return limited(exc)
    async with services.database.write_transaction() as session:
        user = await session.get_one(User, user_id)
        reason = ""
        try:
            method = await two_factor.check_second_factor(session, user, code)
        except InvalidTotpCodeError as exc:
            method, reason = "", str(exc)
    if not method:
        # The client is told only "wrong code"; the event says why, for whoever looks into it.
        await _audit_alone(
            request,
            user,
            "security.2fa_failed",
            target_type="user",
            target_id=user.id,
            after={"reason": reason},
        )
        try:
            await throttle.record_failure("2fa", account)
        except AccountLockedError as exc:
            return limited(exc)
        return Step(error=WRONG_CODE, status_code=400)
    await throttle.clear_failures("2fa", account)
    return await _finish(request, user, method=method)


async def pending_enrolment_user(request: Request[Any, Any, Any]) -> User | None:
    """The staff member who must enrol TOTP now, with a pending secret ready to show."""
    user_id = pending_user_id(request, STAGE_ENROL)
    if user_id is None:
        return None
    async with app_services(request.app).database.transaction() as session:
        user = await session.get_one(User, user_id)
        if user.has_totp:
            return None
        await two_factor.begin_enrolment(session, user)
    return user


async def enrol_step(request: Request[Any, Any, Any], code: str) -> tuple[Step, list[str]]:
    """Confirm a first-login enrolment with a code; signs in and returns the recovery codes."""
    user_id = pending_user_id(request, STAGE_ENROL)
    if user_id is None:
        return Step(error=SIGN_IN_AGAIN, status_code=400), []
    throttle = throttle_for(request)
    try:
        await throttle.check_ip("2fa", client_of(request).ip)
        await throttle.check_account("2fa", f"user:{user_id}")
    except (RateLimitedError, AccountLockedError) as exc:
        return limited(exc), []
    async with app_services(request.app).database.transaction() as session:
        user = await session.get_one(User, user_id)
        try:
            codes = await two_factor.confirm_enrolment(session, user, code, actor_for(request, user))
        except InvalidTotpCodeError:
            codes = []
    if not codes:
        try:
            await throttle.record_failure("2fa", f"user:{user_id}")
        except AccountLockedError as exc:
            return limited(exc), []
        return Step(error=WRONG_CODE, status_code=400), []
    return await _finish(request, user, method="totp_enrolment"), codes
