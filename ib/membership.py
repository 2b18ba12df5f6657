"""Whether a signed-in client is an IB, and where its application stands: what the portal asks
before it shows the IB pages (only an approved, active partner sees them) or the application form."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ib.models import Application, Partner

ACTIVE = "active"


async def approved_partner(session: AsyncSession, client_id: int) -> Partner | None:
    """The client's IB profile when it is approved and active; ``None`` for everyone else."""
    return await session.scalar(
        select(Partner).where(Partner.client_id == client_id, Partner.status == ACTIVE)
    )


async def latest_application(session: AsyncSession, client_id: int) -> Application | None:
    return await session.scalar(
        select(Application)
        .where(Application.client_id == client_id)
        .order_by(Application.submitted_at.desc(), Application.id.desc())
        .limit(1)
    )
