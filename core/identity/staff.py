"""Staff accounts: creation, roles, disabling and 2FA reset. Every change is audited."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.audit.service import Actor, record_audit
from core.identity.accounts import EMAIL_PATTERN, InvalidEmailError, find_user, normalise_email
from core.identity.errors import DuplicateEmailError, IdentityError
from core.identity.models import STAFF, RecoveryCode, StaffRole, User
from core.identity.passwords import check_password_policy, hash_password
from core.identity.roles import role_names_of, roles_by_name
from core.identity.sessions import revoke_other_sessions
from core.settings import Settings


class UnknownRoleError(IdentityError):
    """Raised when staff are given a role that does not exist."""


async def list_staff(session: AsyncSession) -> Sequence[User]:
    return (await session.scalars(select(User).where(User.kind == STAFF).order_by(User.email))).all()


async def get_staff(session: AsyncSession, user_id: int) -> User | None:
    user = await session.get(User, user_id)
    return user if user is not None and user.kind == STAFF else None


async def create_staff(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    display_name: str,
    password: str,
    role_names: Iterable[str],
    actor: Actor,
    language: str = "en",
) -> User:
    """A staff member who must enrol TOTP at first sign-in."""
    email = normalise_email(email)
    if not EMAIL_PATTERN.match(email):
        raise InvalidEmailError("invalid email")
    if await find_user(session, STAFF, email) is not None:
        raise DuplicateEmailError("a staff member with this email exists already")
    check_password_policy(settings, password, email=email)
    names = sorted(set(role_names))
    roles = await roles_by_name(session, names)
    if len(roles) != len(names):
        raise UnknownRoleError("unknown role")
    now = clock.utcnow()
    user = User(
        kind=STAFF,
        email=email,
        display_name=display_name.strip(),
        password_hash=await hash_password(settings, password),
        language=language,
        email_verified_at=now,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    await session.flush()
    session.add_all(StaffRole(user_id=user.id, role_id=role.id) for role in roles)
    await session.flush()
    await record_audit(
        session,
        actor,
        "staff.created",
        target_type="user",
        target_id=user.id,
        after={"email": email, "display_name": user.display_name, "roles": names},
    )
    return user


async def set_staff_roles(session: AsyncSession, user: User, role_names: Iterable[str], actor: Actor) -> None:
    names = sorted(set(role_names))
    roles = await roles_by_name(session, names)
    if len(roles) != len(names):
        raise UnknownRoleError("unknown role")
    before = await role_names_of(session, user.id)
    await session.execute(delete(StaffRole).where(StaffRole.user_id == user.id))
    session.add_all(StaffRole(user_id=user.id, role_id=role.id) for role in roles)
    await session.flush()
    await record_audit(
        session,
        actor,
        "staff.roles_changed",
        target_type="user",
        target_id=user.id,
        before={"roles": before},
        after={"roles": names},
    )


async def set_staff_active(session: AsyncSession, user: User, active: bool, actor: Actor) -> None:
    before = user.is_active
    user.is_active = active
    if not active:
        await revoke_other_sessions(session, user.id, keep=None)
    await record_audit(
        session,
        actor,
        "staff.enabled" if active else "staff.disabled",
        target_type="user",
        target_id=user.id,
        before={"is_active": before},
        after={"is_active": active},
    )


async def reset_staff_two_factor(session: AsyncSession, user: User, actor: Actor) -> None:
    """Clear the staff member's TOTP so they enrol again at their next sign-in."""
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_last_step = 0
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await revoke_other_sessions(session, user.id, keep=None)
    await record_audit(
        session,
        actor,
        "staff.2fa_reset",
        target_type="user",
        target_id=user.id,
        before={"totp_enabled": True},
        after={"totp_enabled": False},
    )
