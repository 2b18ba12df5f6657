"""Documents about to expire: found by a scheduled job, so the client can upload a new one in time."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kyc.models import DocumentStatus, KycDocument


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
