"""The compliance queue: cases waiting for a decision, oldest submission first, with filters."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.models import User
from kyc.documents import client_documents
from kyc.models import (
    CaseStatus,
    KycCase,
    KycDecision,
    KycDocument,
    KycProfileVersion,
    KycQuestionnaireResponse,
    RiskLevel,
)
from kyc.profile import latest_profile
from kyc.review import OPEN_STATUSES, latest_questionnaire


@dataclass(frozen=True)
class QueueFilter:
    """Empty fields do not filter; ``status`` empty means every open case."""

    status: CaseStatus | None = None
    risk: RiskLevel | None = None
    country: str = ""


@dataclass(frozen=True)
class QueueRow:
    case: KycCase
    profile: KycProfileVersion | None
    email: str


async def list_queue(session: AsyncSession, filters: QueueFilter, *, limit: int = 200) -> list[QueueRow]:
    """Cases by age of their submission (oldest first), each with the client's latest profile."""
    latest = (
        select(KycProfileVersion.client_id, func.max(KycProfileVersion.version).label("version"))
        .group_by(KycProfileVersion.client_id)
        .subquery()
    )
    statement = (
        select(KycCase, KycProfileVersion, User.email)
        .outerjoin(User, User.id == KycCase.client_id)
        .outerjoin(latest, latest.c.client_id == KycCase.client_id)
        .outerjoin(
            KycProfileVersion,
            (KycProfileVersion.client_id == latest.c.client_id)
            & (KycProfileVersion.version == latest.c.version),
        )
    )
    if filters.status is not None:
        statement = statement.where(KycCase.status == filters.status)
    else:
        statement = statement.where(KycCase.status.in_(OPEN_STATUSES))
    if filters.risk is not None:
        statement = statement.where(
            or_(
                KycCase.risk_override == filters.risk,
                (KycCase.risk_override.is_(None)) & (KycCase.risk_level == filters.risk),
            )
        )
    if filters.country:
        code = filters.country.upper()
        statement = statement.where(
            or_(KycProfileVersion.country_of_residence == code, KycProfileVersion.nationality == code)
        )
    statement = statement.order_by(
        KycCase.submitted_at.is_(None), KycCase.submitted_at, KycCase.client_id
    ).limit(limit)
    rows = (await session.execute(statement)).all()
    return [QueueRow(case, profile, email or "") for case, profile, email in rows]


@dataclass(frozen=True)
class CaseView:
    """What a reviewer sees of one client: the case, the profile, documents, answers, history."""

    case: KycCase
    email: str
    language: str
    profile: KycProfileVersion | None
    documents: list[KycDocument]
    questionnaire: KycQuestionnaireResponse | None
    decisions: list[KycDecision]


async def load_case_view(session: AsyncSession, client_id: int) -> CaseView | None:
    """The client's case as the review page shows it; ``None`` when the client has no case."""
    case = await session.get(KycCase, client_id)
    if case is None:
        return None
    user = await session.get(User, client_id)
    decisions = await session.scalars(
        select(KycDecision).where(KycDecision.client_id == client_id).order_by(KycDecision.id.desc())
    )
    return CaseView(
        case=case,
        email=user.email if user else "",
        language=user.language if user else "en",
        profile=await latest_profile(session, client_id),
        documents=await client_documents(session, client_id),
        questionnaire=await latest_questionnaire(session, client_id),
        decisions=list(decisions),
    )
