"""Roles and permissions: who may do what in the back office.

Roles are rows; permissions are names from the catalogue in :mod:`core.identity.permissions`.
A staff member's permissions are the union of their roles' permissions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor, record_audit
from core.identity.errors import UnknownPermissionError
from core.identity.models import STAFF, Role, RolePermission, StaffRole, User
from core.identity.permissions import ALL_PERMISSIONS, SEEDED_ROLES


async def permissions_of(session: AsyncSession, user_id: int) -> frozenset[str]:
    rows = await session.scalars(
        select(RolePermission.permission)
        .join(StaffRole, StaffRole.role_id == RolePermission.role_id)
        .where(StaffRole.user_id == user_id)
    )
    return frozenset(rows)


async def staff_holding(session: AsyncSession, permission: str) -> list[tuple[int, str]]:
    """Active staff who hold ``permission`` through a role, as (id, email) by email: whom a queue's
    work may be assigned to."""
    rows = await session.execute(
        select(User.id, User.email)
        .join(StaffRole, StaffRole.user_id == User.id)
        .join(RolePermission, RolePermission.role_id == StaffRole.role_id)
        .where(User.kind == STAFF, User.is_active.is_(True), RolePermission.permission == permission)
        .distinct()
        .order_by(User.email)
    )
    return [(int(user_id), email) for user_id, email in rows]


async def role_names_of(session: AsyncSession, user_id: int) -> list[str]:
    rows = await session.scalars(
        select(Role.name).join(StaffRole, StaffRole.role_id == Role.id).where(StaffRole.user_id == user_id)
    )
    return sorted(rows)


async def list_roles(session: AsyncSession) -> Sequence[Role]:
    return (await session.scalars(select(Role).order_by(Role.name))).all()


async def role_permissions(session: AsyncSession, role_id: int) -> frozenset[str]:
    rows = await session.scalars(select(RolePermission.permission).where(RolePermission.role_id == role_id))
    return frozenset(rows)


async def roles_by_name(session: AsyncSession, names: Iterable[str]) -> list[Role]:
    wanted = set(names)
    if not wanted:
        return []
    rows = list(await session.scalars(select(Role).where(Role.name.in_(wanted))))
    return rows


def _check_permissions(permissions: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(permissions)
    unknown = chosen - ALL_PERMISSIONS
    if unknown:
        raise UnknownPermissionError(f"unknown permission(s): {', '.join(sorted(unknown))}")
    return chosen


async def create_role(
    session: AsyncSession, name: str, description: str, permissions: Iterable[str], actor: Actor
) -> Role:
    chosen = _check_permissions(permissions)
    role = Role(name=name.strip(), description=description.strip(), is_system=False)
    session.add(role)
    await session.flush()
    session.add_all(RolePermission(role_id=role.id, permission=p) for p in chosen)
    await session.flush()
    await record_audit(
        session,
        actor,
        "role.created",
        target_type="role",
        target_id=role.id,
        after={"name": role.name, "permissions": sorted(chosen)},
    )
    return role


async def set_role_permissions(
    session: AsyncSession, role: Role, permissions: Iterable[str], actor: Actor
) -> None:
    chosen = _check_permissions(permissions)
    before = await role_permissions(session, role.id)
    await session.execute(delete(RolePermission).where(RolePermission.role_id == role.id))
    session.add_all(RolePermission(role_id=role.id, permission=p) for p in chosen)
    await session.flush()
    await record_audit(
        session,
        actor,
        "role.permissions_changed",
        target_type="role",
        target_id=role.id,
        before={"permissions": sorted(before)},
        after={"permissions": sorted(chosen)},
    )


async def ensure_seeded_roles(session: AsyncSession) -> None:
    """Create any seeded role that is missing and give ``admin`` every catalogued permission.

    Idempotent: grants that admins changed on other roles are left as they are.
    """
    existing = {role.name: role for role in await list_roles(session)}
    for name, (description, permissions) in SEEDED_ROLES.items():
        role = existing.get(name)
        if role is None:
            role = Role(name=name, description=description, is_system=True)
            session.add(role)
            await session.flush()
            session.add_all(RolePermission(role_id=role.id, permission=p) for p in permissions)
        elif name == "admin":
            missing = ALL_PERMISSIONS - await role_permissions(session, role.id)
            session.add_all(RolePermission(role_id=role.id, permission=p) for p in missing)
    await session.flush()
