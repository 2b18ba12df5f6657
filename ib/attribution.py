"""Which IB a client belongs to: referral links and codes, registration, staff reassignment.

A client has at most one open link at a time (a partial unique index holds it). The first valid
claim wins: registering through a link attributes only a client nobody claimed yet; changing an
existing attribution is a staff reassignment, from a chosen date, with a reason. Clicks and
registrations are counted per link with atomic increments.
"""

from __future__ import annotations

import io
import secrets
from datetime import datetime

import segno
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ib import audit
from ib.errors import AttributionError, EffectiveDateError
from ib.models import ClientLink, ReferralLink
from ib.partners import get_partner
from ib.timeutil import aware

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O or 1/I, so a code read aloud or typed from paper survives."""
CODE_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


async def create_link(
    session: AsyncSession,
    partner_id: int,
    *,
    campaign: str = "",
    actor: str,
    now: datetime,
    code: str | None = None,
) -> ReferralLink:
    """A new referral link (its code is also what a client types at registration)."""
    await get_partner(session, partner_id)
    code = (code or new_code()).upper()
    if await session.scalar(select(ReferralLink.id).where(ReferralLink.code == code)) is not None:
        raise AttributionError(f"referral code {code} is taken")
    link = ReferralLink(partner_id=partner_id, code=code, campaign=campaign, created_at=now)
    session.add(link)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="ib.link_created",
        subject=f"partner:{partner_id}",
        now=now,
        after={"link_id": link.id, "code": code, "campaign": campaign},
    )
    return link


async def active_link(session: AsyncSession, code: str) -> ReferralLink:
    link = await session.scalar(select(ReferralLink).where(ReferralLink.code == code.strip().upper()))
    if link is None or not link.active:
        raise AttributionError("unknown or inactive referral code")
    return link


async def record_click(session: AsyncSession, code: str) -> ReferralLink:
    """Someone opened the link: count it."""
    link = await active_link(session, code)
    await session.execute(
        update(ReferralLink).where(ReferralLink.id == link.id).values(clicks=ReferralLink.clicks + 1)
    )
    await session.refresh(link)
    return link


async def current_link(session: AsyncSession, client_id: int) -> ClientLink | None:
    return await session.scalar(
        select(ClientLink).where(ClientLink.client_id == client_id, ClientLink.valid_to.is_(None))
    )


async def register_through_link(
    session: AsyncSession, client_id: int, code: str, *, now: datetime, source: str = "link"
) -> ClientLink:
    """A client registered through a link (or typed its code): the link's IB gets the client."""
    link = await active_link(session, code)
    if await current_link(session, client_id) is not None:
        raise AttributionError(f"client {client_id} is already attributed; staff can reassign")
    attribution = ClientLink(
        client_id=client_id,
        partner_id=link.partner_id,
        valid_from=now,
        source=source,
        referral_link_id=link.id,
        created_by=f"client:{client_id}",
    )
    session.add(attribution)
    await session.execute(
        update(ReferralLink)
        .where(ReferralLink.id == link.id)
        .values(registrations=ReferralLink.registrations + 1)
    )
    await session.flush()
    audit.record(
        session,
        actor=f"client:{client_id}",
        action="ib.client_attributed",
        subject=f"client:{client_id}",
        now=now,
        after={"partner_id": link.partner_id, "link_id": link.id, "source": source},
    )
    return attribution


async def reassign_client(
    session: AsyncSession,
    client_id: int,
    partner_id: int | None,
    *,
    effective_from: datetime,
    reason: str,
    actor: str,
    now: datetime,
) -> ClientLink | None:
    """Staff move a client to another IB (``None``: to no IB) from ``effective_from``, with a reason."""
    if not reason.strip():
        raise AttributionError("a reassignment needs a reason")
    effective_from = aware(effective_from)
    if partner_id is not None:
        await get_partner(session, partner_id)
    history = (
        await session.scalars(select(ClientLink).where(ClientLink.client_id == client_id).with_for_update())
    ).all()
    if any(aware(item.valid_from) >= effective_from for item in history):
        raise EffectiveDateError(f"client {client_id} already has an attribution on or after that date")
    current = next((item for item in history if item.valid_to is None), None)
    before = None if current is None else {"partner_id": current.partner_id}
    if current is not None:
        current.valid_to = effective_from
        await session.flush()
    new = None
    if partner_id is not None:
        new = ClientLink(
            client_id=client_id,
            partner_id=partner_id,
            valid_from=effective_from,
            source="staff",
            reason=reason,
            created_by=actor,
        )
        session.add(new)
    audit.record(
        session,
        actor=actor,
        action="ib.client_reassigned",
        subject=f"client:{client_id}",
        now=now,
        before=before,
        after={"partner_id": partner_id, "effective_from": effective_from.isoformat()},
        reason=reason,
    )
    await session.flush()
    return new


def referral_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/r/{code}"


def qr_svg(url: str, *, scale: int = 4) -> str:
    """The link's QR code as an SVG document, rendered locally (no third-party service)."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=scale, xmldecl=False)
    return buffer.getvalue().decode("utf-8")
