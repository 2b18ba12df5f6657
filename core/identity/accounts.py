"""Accounts: registration, email verification, sign-in, password reset and password change.

Answers never reveal whether an email is registered: registration and reset requests look the
same either way, and a wrong email and a wrong password raise the same error after the same work.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.audit.service import Actor, record_audit
from core.events import EventKind, record_event
from core.i18n import gettext as _
from core.i18n import use_language
from core.identity import tokens
from core.identity.errors import (
    EmailNotVerifiedError,
    IdentityError,
    InvalidCredentialsError,
    InvalidTokenError,
)
from core.identity.models import CLIENT, User
from core.identity.passwords import burn_time, check_password_policy, hash_password, verify_password
from core.identity.sessions import revoke_other_sessions
from core.mail.outbox import queue_mail
from core.settings import Settings

EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
REFERRAL_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class InvalidEmailError(IdentityError):
    """Raised when an email address is not shaped like one."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def clean_referral_code(raw: str | None) -> str | None:
    """A referral code as given in a link or form, or ``None`` when it is absent or malformed."""
    code = (raw or "").strip()
    return code if REFERRAL_PATTERN.match(code) else None


async def find_user(session: AsyncSession, kind: str, email: str) -> User | None:
    return await session.scalar(select(User).where(User.kind == kind, User.email == normalise_email(email)))


async def _mail_security_notice(session: AsyncSession, user: User, event: str) -> None:
    with use_language(user.language):
        text = _(event)
    await queue_mail(session, user.email, "security_notice", user.language, {"event": text})


async def register_client(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    password: str,
    language: str,
    referral_code: str | None,
    actor: Actor,
) -> User | None:
    """Create an unverified client and mail a verification link; the new client, for the caller's
    own steps in the same transaction (the portal attributes it to the referring IB).

    When the email is taken, the owner gets a notice instead and the caller sees the same
    outcome (``None``, and the same page), so the form can't be used to find out who is registered.
    """
    email = normalise_email(email)
    if not EMAIL_PATTERN.match(email):
        raise InvalidEmailError("invalid email")
    check_password_policy(settings, password, email=email)
    password_hash = await hash_password(settings, password)
    existing = await find_user(session, CLIENT, email)
    if existing is not None:
        await _mail_security_notice(
            session,
            existing,
            "Someone tried to register a new account with your email address. "
            "If it was you, sign in or use “Forgot password”.",
        )
        await record_audit(
            session, actor, "client.registration_repeated", target_type="user", target_id=existing.id
        )
        return None
    user = User(
        kind=CLIENT,
        email=email,
        password_hash=password_hash,
        language=language,
        referral_code=clean_referral_code(referral_code),
        created_at=clock.utcnow(),
        password_changed_at=clock.utcnow(),
    )
    session.add(user)
    await session.flush()
    await send_verification(session, settings, user)
    record_event(session, EventKind.CLIENT_REGISTERED, client_id=user.id, language=language, source="portal")
    await record_audit(
        session,
        Actor(user.id, email, CLIENT, actor.ip, actor.user_agent),
        "client.registered",
        target_type="user",
        target_id=user.id,
        after={"email": email, "referral_code": user.referral_code, "language": language},
    )
    return user


async def send_verification(session: AsyncSession, settings: Settings, user: User) -> None:
    lifetime = timedelta(hours=settings.email_token_hours)
    token = await tokens.issue_token(session, user.id, tokens.VERIFY_EMAIL, lifetime)
    link = f"{settings.public_portal_url}/verify-email/{token}"
    await queue_mail(
        session,
        user.email,
        "verify_email",
        user.language,
        {"link": link, "hours": settings.email_token_hours},
    )


async def verify_email(session: AsyncSession, token: str, actor: Actor) -> User:
    """Confirm the address the token was mailed to; the token can't be used again."""
    user_id = await tokens.consume_token(session, token, tokens.VERIFY_EMAIL)
    user = await session.get_one(User, user_id)
    if user.email_verified_at is None:
        user.email_verified_at = clock.utcnow()
    await record_audit(
        session,
        Actor(user.id, user.email, user.kind, actor.ip, actor.user_agent),
        "client.email_verified",
        target_type="user",
        target_id=user.id,
    )
    return user


async def authenticate(
    session: AsyncSession, settings: Settings, kind: str, email: str, password: str
) -> User:
    """The active user with this email and password, or :class:`InvalidCredentialsError`.

    An unverified client with the right password gets :class:`EmailNotVerifiedError`; only
    someone who knows the password learns that the account exists.
    """
    user = await find_user(session, kind, email)
    if user is None:
        await burn_time(settings, password)
        raise InvalidCredentialsError("wrong email or password")
    if not await verify_password(settings, user.password_hash, password) or not user.is_active:
        raise InvalidCredentialsError("wrong email or password")
    if kind == CLIENT and user.email_verified_at is None:
        raise EmailNotVerifiedError("email not verified")
    return user


async def request_password_reset(
    session: AsyncSession, settings: Settings, kind: str, email: str, base_url: str, actor: Actor
) -> None:
    """Mail a reset link when an active account has this email; do nothing visible otherwise."""
    user = await find_user(session, kind, email)
    if user is None or not user.is_active:
        return
    await tokens.revoke_tokens(session, user.id, tokens.RESET_PASSWORD)
    lifetime = timedelta(minutes=settings.reset_token_minutes)
    token = await tokens.issue_token(session, user.id, tokens.RESET_PASSWORD, lifetime)
    await queue_mail(
        session,
        user.email,
        "reset_password",
        user.language,
        {"link": f"{base_url}/reset-password/{token}", "minutes": settings.reset_token_minutes},
    )
    await record_audit(
        session,
        Actor(user.id, user.email, user.kind, actor.ip, actor.user_agent),
        "security.password_reset_requested",
        target_type="user",
        target_id=user.id,
    )


async def reset_password(
    session: AsyncSession, settings: Settings, token: str, new_password: str, actor: Actor
) -> User:
    """Set a new password through a reset link; every session of the account ends."""
    user_id = await tokens.peek_token(session, token, tokens.RESET_PASSWORD)
    if user_id is None:
        raise InvalidTokenError("this link is invalid, used already or expired")
    user = await session.get_one(User, user_id)
    check_password_policy(settings, new_password, email=user.email)
    await tokens.consume_token(session, token, tokens.RESET_PASSWORD)
    await _set_password(session, settings, user, new_password)
    if user.kind == CLIENT and user.email_verified_at is None:
        user.email_verified_at = clock.utcnow()  # the link proved the address
    await revoke_other_sessions(session, user.id, keep=None)
    await record_audit(
        session,
        Actor(user.id, user.email, user.kind, actor.ip, actor.user_agent),
        "security.password_reset",
        target_type="user",
        target_id=user.id,
        after={"password": "changed"},
    )
    await _mail_security_notice(session, user, "The password of your account was reset.")
    return user


async def change_password(
    session: AsyncSession,
    settings: Settings,
    user: User,
    current_password: str,
    new_password: str,
    keep_session: str,
    actor: Actor,
) -> None:
    """Change the password after checking the current one; every other session ends."""
    if not await verify_password(settings, user.password_hash, current_password):
        raise InvalidCredentialsError("wrong current password")
    check_password_policy(settings, new_password, email=user.email)
    await _set_password(session, settings, user, new_password)
    await revoke_other_sessions(session, user.id, keep=keep_session)
    await record_audit(
        session,
        actor,
        "security.password_changed",
        target_type="user",
        target_id=user.id,
        after={"password": "changed"},
    )
    await _mail_security_notice(session, user, "The password of your account was changed.")


async def _set_password(session: AsyncSession, settings: Settings, user: User, password: str) -> None:
    user.password_hash = await hash_password(settings, password)
    user.password_changed_at = clock.utcnow()
    await session.flush()
