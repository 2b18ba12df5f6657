"""Documents about to expire: found by a scheduled job, so the client can upload a new one in time."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.models import User
from kyc.config import load_limits
from kyc.models import DocumentStatus, KycDocument
from kyc.notifications import MailQueue


async def claim_expiring_documents(
    session: AsyncSession, today: date, notice_days: int, now: datetime
) -> list[KycDocument]:
    """Approved documents expiring within ``notice_days`` whose client was not yet told; they are
    marked as told in the same transaction, so a second run tells nobody twice."""
    documents = list(
        await session.scalars(
            select(KycDocument)
            .where(
                KycDocument.status == DocumentStatus.APPROVED,
                KycDocument.expires_on.is_not(None),
                KycDocument.expires_on <= today + timedelta(days=notice_days),
                KycDocument.expiry_notified_at.is_(None),
            )
            .order_by(KycDocument.id)
            .with_for_update(skip_locked=True)
        )
    )
    for document in documents:
        document.expiry_notified_at = now
    return documents


EXPIRING_MAIL = "kyc_document_expiring"


async def notify_expiring_documents(
    session: AsyncSession, today: date, now: datetime, portal_url: str, *, queue_mail: MailQueue
) -> int:
    """Mail each client whose approved documents expire within the notice period, once per
    document; returns how many clients were mailed. Safe to run again: claimed documents are
    marked in this transaction, and the mails leave only when it commits."""
    notice_days = (await load_limits(session)).expiry_notice_days
    claimed = await claim_expiring_documents(session, today, notice_days, now)
    by_client: dict[int, list[KycDocument]] = {}
    for document in claimed:
        by_client.setdefault(document.client_id, []).append(document)
    mailed = 0
    for client_id, documents in sorted(by_client.items()):
        user = await session.get(User, client_id)
        if user is None or not user.is_active:
            continue
        await queue_mail(
            session,
            user.email,
            EXPIRING_MAIL,
            user.language,
            {
                "documents": [
                    {"kind": d.kind.value, "side": d.side.value, "expires_on": d.expires_on.isoformat()}
                    for d in documents
                    if d.expires_on is not None
                ],
                "link": f"{portal_url}/kyc/documents",
            },
        )
        mailed += 1
    return mailed
