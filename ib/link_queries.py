"""An IB's own referral links, read for its portal; another IB's link id is "not found"."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ib.errors import AttributionError
from ib.models import ReferralLink

MAX_CAMPAIGN = 64


class LinkNotFoundError(AttributionError):
    """Raised when a referral link id names no link of this IB."""


def clean_campaign(raw: str) -> str:
    """A campaign tag as typed: trimmed; refused when longer than the column holds."""
    campaign = " ".join(raw.replace("\x00", " ").split())  # PostgreSQL stores no NUL
    if len(campaign) > MAX_CAMPAIGN:
        raise AttributionError(f"A campaign tag has at most {MAX_CAMPAIGN} characters.")
    return campaign


async def partner_links(session: AsyncSession, partner_id: int) -> list[ReferralLink]:
    rows = await session.scalars(
        select(ReferralLink).where(ReferralLink.partner_id == partner_id).order_by(ReferralLink.id.desc())
    )
    return list(rows.all())


async def partner_link(session: AsyncSession, partner_id: int, link_id: int) -> ReferralLink:
    link = await session.get(ReferralLink, link_id)
    if link is None or link.partner_id != partner_id:
        raise LinkNotFoundError(f"no referral link {link_id} for IB {partner_id}")
    return link
