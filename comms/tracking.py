"""Opens and clicks of campaign mails, from the signed pixel and redirect URLs.

A click redirects only to the link at its index in the campaign's fixed list (never to a URL
taken from the request), so the redirect can't be used to send anyone elsewhere.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from comms.campaign_links import CLICK, OPEN, read
from comms.campaign_models import Campaign, CampaignRecipient
from comms.errors import BadTrackingTokenError
from core import clock

PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
"""A transparent 1x1 GIF."""


async def record_open(session: AsyncSession, secret_key: str, token: str) -> None:
    """The first open is kept; a bad token raises :class:`BadTrackingTokenError`."""
    recipient_id, _ = read(secret_key, OPEN, token.removesuffix(".gif"))
    result = await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.id == recipient_id, CampaignRecipient.opened_at.is_(None))
        .values(opened_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0) and await session.get(CampaignRecipient, recipient_id) is None:
        raise BadTrackingTokenError("this link is not one of ours")


async def record_click(session: AsyncSession, secret_key: str, token: str) -> str:
    """Count the click (a click implies an open) and return the campaign link to redirect to."""
    recipient_id, index = read(secret_key, CLICK, token)
    recipient = await session.get(CampaignRecipient, recipient_id)
    campaign = await session.get(Campaign, recipient.campaign_id) if recipient else None
    if recipient is None or campaign is None or index is None or index >= len(campaign.links):
        raise BadTrackingTokenError("this link is not one of ours")
    now = clock.utcnow()
    await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.id == recipient_id)
        .values(clicks=CampaignRecipient.clicks + 1)
        .execution_options(synchronize_session=False)
    )
    for column in (CampaignRecipient.clicked_at, CampaignRecipient.opened_at):
        await session.execute(
            update(CampaignRecipient)
            .where(CampaignRecipient.id == recipient_id, column.is_(None))
            .values({column.key: now})
            .execution_options(synchronize_session=False)
        )
    return str(campaign.links[index])
