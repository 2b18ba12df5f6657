"""Sales assignment and data scopes: staff-only changes, each audited with before and after."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor, record_audit
from core.clock import utcnow
from core.identity.models import CLIENT, STAFF, User
from crm.errors import AssignmentError, InvalidScopeError
from crm.models import ClientOwner, StaffScope
from crm.scope import DataScope, ScopeKind, require_visible_client

MAX_TEAM_LENGTH = 64
MAX_BULK = 500


async def set_data_scope(session: AsyncSession, actor: Actor, staff_id: int, kind: str, team: str) -> None:
    """Give ``staff_id`` the scope ``kind`` (all, team, own), in ``team`` (required for a team scope)."""
    try:
        scope_kind = ScopeKind(kind)
    except ValueError:
        raise InvalidScopeError(f"unknown data scope {kind!r}: choose all, team or own") from None
    team = " ".join(team.split())
    if scope_kind is ScopeKind.TEAM and not team:
        raise InvalidScopeError("a team scope needs a team name")
    if len(team) > MAX_TEAM_LENGTH:
        raise InvalidScopeError(f"a team name has at most {MAX_TEAM_LENGTH} characters")
    await _require_user(session, staff_id, STAFF, "staff member")
    row = await session.get(StaffScope, staff_id)
    before = {"kind": row.kind, "team": row.team} if row else {"kind": ScopeKind.ALL.value, "team": ""}
    if row is None:
        row = StaffScope(user_id=staff_id, kind=scope_kind.value, team=team)
        session.add(row)
    else:
        row.kind, row.team, row.updated_at = scope_kind.value, team, utcnow()
    await session.flush()
    await record_audit(
        session,
        actor,
        "crm.data_scope_changed",
        target_type="user",
        target_id=staff_id,
        before=before,
        after={"kind": scope_kind.value, "team": team},
    )


async def assign_client(session: AsyncSession, actor: Actor, client_id: int, owner_id: int | None) -> bool:
    """Assign a client to an active staff member, or unassign them with ``owner_id=None``.

    ``False`` (and no audit event) when the client had that owner already."""
    await _require_user(session, client_id, CLIENT, "client")
    if owner_id is not None:
        owner = await _require_user(session, owner_id, STAFF, "staff member")
        if not owner.is_active:
            raise AssignmentError(f"staff member {owner_id} is disabled")
    row = await session.get(ClientOwner, client_id)
    before = {"owner_id": row.owner_id if row else None}
    if before["owner_id"] == owner_id:
        return False
    if row is not None:
        await session.delete(row)
        await session.flush()
    if owner_id is not None:
        session.add(ClientOwner(client_id=client_id, owner_id=owner_id))
        await session.flush()
    await record_audit(
        session,
        actor,
        "crm.client_assigned",
        target_type="user",
        target_id=client_id,
        before=before,
        after={"owner_id": owner_id},
    )
    return True


async def assign_clients(
    session: AsyncSession, actor: Actor, scope: DataScope, client_ids: Iterable[int], owner_id: int | None
) -> int:
    """Bulk assignment from the client list: every client must be in the actor's scope, or nothing
    changes. Returns how many clients changed owner (each change is its own audit event)."""
    ids = sorted(set(client_ids))
    if not ids:
        raise AssignmentError("choose at least one client")
    if len(ids) > MAX_BULK:
        raise AssignmentError(f"assign at most {MAX_BULK} clients at once")
    for client_id in ids:
        await require_visible_client(session, scope, client_id)
    changed = 0
    for client_id in ids:
        changed += await assign_client(session, actor, client_id, owner_id)
    return changed


async def _require_user(session: AsyncSession, user_id: int, kind: str, label: str) -> User:
    user = await session.get(User, user_id)
    if user is None or user.kind != kind:
        raise AssignmentError(f"no {label} has id {user_id}")
    return user
