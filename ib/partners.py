"""Becoming an IB: a client applies (or staff apply for it), staff approve with a scheme and a rank.

Approval creates the partner, its first terms (scheme + rank) and, when the client was itself
referred by an IB, the edge that puts the new IB under that referrer from the approval on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ib import audit
from ib.errors import ApplicationStateError, EffectiveDateError, PartnerNotFoundError, SchemeError
from ib.models import Application, ClientLink, Partner, PartnerEdge, PartnerTerms, Rank, Scheme
from ib.timeutil import aware


async def partner_for_client(session: AsyncSession, client_id: int) -> Partner | None:
    return await session.scalar(select(Partner).where(Partner.client_id == client_id))


async def get_partner(session: AsyncSession, partner_id: int) -> Partner:
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise PartnerNotFoundError(f"no IB {partner_id}")
    return partner


async def apply(
    session: AsyncSession, client_id: int, *, actor: str, now: datetime, message: str = ""
) -> Application:
    """A client (or staff on its behalf) asks for an IB profile."""
    if await partner_for_client(session, client_id) is not None:
        raise ApplicationStateError(f"client {client_id} is already an IB")
    pending = await session.scalar(
        select(Application).where(Application.client_id == client_id, Application.status == "pending")
    )
    if pending is not None:
        raise ApplicationStateError(f"client {client_id} already has a pending application")
    application = Application(client_id=client_id, message=message, submitted_by=actor, submitted_at=now)
    session.add(application)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="ib.application_submitted",
        subject=f"application:{application.id}",
        now=now,
    )
    return application


async def _pending(session: AsyncSession, application_id: int) -> Application:
    application = await session.get(Application, application_id, with_for_update=True)
    if application is None:
        raise ApplicationStateError(f"no application {application_id}")
    if application.status != "pending":
        raise ApplicationStateError(f"application {application_id} is already {application.status}")
    return application


async def approve(
    session: AsyncSession,
    application_id: int,
    *,
    scheme_id: int,
    rank_code: str | None,
    actor: str,
    now: datetime,
    reason: str = "",
) -> Partner:
    """Approve: the client becomes an IB from ``now`` with ``scheme_id`` and ``rank_code``."""
    application = await _pending(session, application_id)
    if await session.get(Scheme, scheme_id) is None:
        raise SchemeError(f"no scheme {scheme_id}")
    if rank_code is not None and await session.get(Rank, rank_code) is None:
        raise SchemeError(f"no rank {rank_code!r}")
    partner = Partner(client_id=application.client_id, status="active", since=now, created_at=now)
    session.add(partner)
    await session.flush()
    session.add(
        PartnerTerms(
            partner_id=partner.id,
            scheme_id=scheme_id,
            rank_code=rank_code,
            effective_from=now,
            created_by=actor,
        )
    )
    referrer = await session.scalar(
        select(ClientLink.partner_id).where(
            ClientLink.client_id == application.client_id, ClientLink.valid_to.is_(None)
        )
    )
    if referrer is not None:
        session.add(
            PartnerEdge(
                partner_id=partner.id,
                parent_id=referrer,
                valid_from=now,
                reason="referred client approved as IB",
                created_by=actor,
            )
        )
    application.status = "approved"
    application.decided_by = actor
    application.decided_at = now
    application.reason = reason
    application.partner_id = partner.id
    audit.record(
        session,
        actor=actor,
        action="ib.application_approved",
        subject=f"application:{application.id}",
        now=now,
        before={"status": "pending"},
        after={
            "status": "approved",
            "partner_id": partner.id,
            "scheme_id": scheme_id,
            "rank": rank_code,
            "parent_id": referrer,
        },
        reason=reason,
    )
    return partner


async def reject(
    session: AsyncSession, application_id: int, *, actor: str, now: datetime, reason: str
) -> Application:
    if not reason.strip():
        raise ApplicationStateError("a rejection needs a reason")
    application = await _pending(session, application_id)
    application.status = "rejected"
    application.decided_by = actor
    application.decided_at = now
    application.reason = reason
    audit.record(
        session,
        actor=actor,
        action="ib.application_rejected",
        subject=f"application:{application.id}",
        now=now,
        before={"status": "pending"},
        after={"status": "rejected"},
        reason=reason,
    )
    return application


async def make_partner(
    session: AsyncSession,
    client_id: int,
    *,
    scheme_id: int,
    rank_code: str | None,
    actor: str,
    now: datetime,
    reason: str = "",
) -> Partner:
    """Staff make a client an IB directly: an application submitted and approved in one step."""
    application = await apply(session, client_id, actor=actor, now=now, message="created by staff")
    return await approve(
        session, application.id, scheme_id=scheme_id, rank_code=rank_code, actor=actor, now=now, reason=reason
    )


async def change_terms(
    session: AsyncSession,
    partner_id: int,
    *,
    scheme_id: int,
    rank_code: str | None,
    effective_from: datetime,
    actor: str,
    now: datetime,
    reason: str = "",
) -> PartnerTerms:
    """A new scheme or rank for a partner from ``effective_from``; earlier terms stay as they were."""
    await get_partner(session, partner_id)
    latest = await session.scalar(
        select(PartnerTerms.effective_from)
        .where(PartnerTerms.partner_id == partner_id)
        .order_by(PartnerTerms.effective_from.desc())
        .limit(1)
    )
    if latest is not None and aware(effective_from) <= aware(latest):
        raise EffectiveDateError("new terms must start after the current ones")
    terms = PartnerTerms(
        partner_id=partner_id,
        scheme_id=scheme_id,
        rank_code=rank_code,
        effective_from=effective_from,
        created_by=actor,
    )
    session.add(terms)
    audit.record(
        session,
        actor=actor,
        action="ib.terms_changed",
        subject=f"partner:{partner_id}",
        now=now,
        after={"scheme_id": scheme_id, "rank": rank_code, "effective_from": effective_from.isoformat()},
        reason=reason,
    )
    return terms
