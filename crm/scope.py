"""Data scope: which clients (and leads) a staff member may see.

Every client read in the back office goes through :func:`visible_clients` (for lists) or
:func:`require_visible_client` (for one client), so a limited staff member can't reach another
team's client by typing its id. The team is a free label on the scope row; staff who share it
share their clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, exists, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm.errors import OutOfScopeError
from crm.models import ClientOwner, StaffScope


class ScopeKind(StrEnum):
    ALL = "all"
    TEAM = "team"
    OWN = "own"


@dataclass(frozen=True, slots=True)
class DataScope:
    """One staff member's reach. ``owner_ids`` are the staff whose clients they see when limited."""

    staff_id: int
    kind: ScopeKind
    team: str
    owner_ids: frozenset[int]

    @property
    def limited(self) -> bool:
        return self.kind is not ScopeKind.ALL

    def allows_owner(self, owner_id: int | None) -> bool:
        """An unassigned client or lead is visible only to unlimited staff."""
        return not self.limited or (owner_id is not None and owner_id in self.owner_ids)


async def data_scope_of(session: AsyncSession, staff_id: int) -> DataScope:
    row = await session.get(StaffScope, staff_id)
    if row is None or row.kind == ScopeKind.ALL:
        return DataScope(staff_id, ScopeKind.ALL, row.team if row else "", frozenset())
    kind = ScopeKind(row.kind)
    if kind is ScopeKind.OWN:
        return DataScope(staff_id, kind, row.team, frozenset({staff_id}))
    mates = await session.scalars(select(StaffScope.user_id).where(StaffScope.team == row.team))
    return DataScope(staff_id, kind, row.team, frozenset(mates) | {staff_id})


def visible_owner(scope: DataScope, owner_column: ColumnElement[int | None]) -> ColumnElement[bool]:
    """A WHERE clause on a row's owner column (leads, tasks): true for unlimited staff."""
    if not scope.limited:
        return true()
    return owner_column.in_(sorted(scope.owner_ids))


def visible_clients(scope: DataScope, client_id_column: ColumnElement[int]) -> ColumnElement[bool]:
    """A WHERE clause on a client id column: the client is owned by someone in the scope."""
    if not scope.limited:
        return true()
    owned = select(ClientOwner.client_id).where(
        ClientOwner.client_id == client_id_column, ClientOwner.owner_id.in_(sorted(scope.owner_ids))
    )
    return exists(owned)


async def owner_of(session: AsyncSession, client_id: int) -> int | None:
    row = await session.get(ClientOwner, client_id)
    return row.owner_id if row else None


async def require_visible_client(session: AsyncSession, scope: DataScope, client_id: int) -> None:
    """Raise :class:`OutOfScopeError` unless the scope covers the client."""
    if scope.limited and not scope.allows_owner(await owner_of(session, client_id)):
        raise OutOfScopeError(f"client {client_id} is outside your data scope")
