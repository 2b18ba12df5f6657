"""Marketing-mail opt-outs: the one-click unsubscribe link and the account page's preference.

Only campaigns read this; transactional mail (verification, password reset, ticket replies) goes
through :mod:`core.mail.outbox`, which never looks here.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.campaign_links import UNSUBSCRIBE, read
from comms.campaign_models import CampaignRecipient, MarketingOptOut
from comms.errors import BadTrackingTokenError
from core import clock
from core.audit.service import Actor, record_audit

AUDIT_TARGET = "client"


async def opted_out_among(session: AsyncSession, client_ids: Sequence[int]) -> set[int]:
    if not client_ids:
        return set()
    found = await session.scalars(
        select(MarketingOptOut.client_id).where(MarketingOptOut.client_id.in_(list(client_ids)))
    )
    return set(found)


async def wants_marketing(session: AsyncSession, client_id: int) -> bool:
    return await session.get(MarketingOptOut, client_id) is None


async def set_marketing(
    session: AsyncSession, client_id: int, wanted: bool, actor: Actor, *, campaign_id: int | None = None
) -> bool:
    """Record the client's choice; returns whether it changed anything (audited when it did)."""
    row = await session.get(MarketingOptOut, client_id)
    if wanted == (row is None):
        return False
    if wanted:
        assert row is not None
        await session.delete(row)
    else:
        session.add(
            MarketingOptOut(client_id=client_id, opted_out_at=clock.utcnow(), campaign_id=campaign_id)
        )
    await session.flush()
    await record_audit(
        session,
        actor,
        "comms.marketing_subscribed" if wanted else "comms.marketing_unsubscribed",
        target_type=AUDIT_TARGET,
        target_id=client_id,
        before={"marketing": not wanted},
        after={"marketing": wanted, "campaign_id": campaign_id},
    )
    return True


async def recipient_of(session: AsyncSession, secret_key: str, token: str) -> CampaignRecipient:
    """The recipient an unsubscribe token names; :class:`BadTrackingTokenError` for a bad one."""
    recipient_id, _ = read(secret_key, UNSUBSCRIBE, token)
    row = await session.get(CampaignRecipient, recipient_id)
    if row is None:
        raise BadTrackingTokenError("this link is not one of ours")
    return row
