"""What a note or a task hangs on: one client or one lead, checked against the staff member's scope."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.models import CLIENT, User
from crm.leads import get_lead
from crm.scope import DataScope, require_visible_client
from crm.work_errors import WorkItemNotFoundError
from crm.work_models import Note, Task


class TargetKind(StrEnum):
    CLIENT = "client"
    LEAD = "lead"


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    id: int

    @classmethod
    def client(cls, client_id: int) -> Target:
        return cls(TargetKind.CLIENT, client_id)

    @classmethod
    def lead(cls, lead_id: int) -> Target:
        return cls(TargetKind.LEAD, lead_id)

    def columns(self) -> dict[str, int | None]:
        """The ``client_id`` and ``lead_id`` values of a row on this target."""
        if self.kind is TargetKind.CLIENT:
            return {"client_id": self.id, "lead_id": None}
        return {"client_id": None, "lead_id": self.id}

    def matches(self, model: type[Note] | type[Task]) -> ColumnElement[bool]:
        """A WHERE clause: the row hangs on this target."""
        if self.kind is TargetKind.CLIENT:
            return model.client_id == self.id
        return model.lead_id == self.id

    def owns(self, row: Note | Task) -> bool:
        return (row.client_id if self.kind is TargetKind.CLIENT else row.lead_id) == self.id


async def require_target(session: AsyncSession, scope: DataScope, target: Target) -> None:
    """The client or lead exists and the scope covers it; otherwise a not-found error (the pages
    answer 404 for both, so an id outside the scope reveals nothing)."""
    if target.kind is TargetKind.LEAD:
        await get_lead(session, scope, target.id)
        return
    user = await session.get(User, target.id)
    if user is None or user.kind != CLIENT:
        raise WorkItemNotFoundError(f"no client #{target.id}")
    await require_visible_client(session, scope, target.id)
