"""The verification case: from the client's submission to compliance's decision.

Every change goes through here and leaves a :class:`KycDecision` row. The caller (a back-office
controller, a provider webhook) writes the audit event and mails the client, because those are the
caller's context: who is signed in, from which IP, in which language.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import EventKind, record_event
from kyc.config import load_country_lists
from kyc.documents import client_documents, identity_documents_complete
from kyc.errors import ReviewError, SameReviewerError
from kyc.models import (
    CaseStatus,
    DocumentStatus,
    KycCase,
    KycDecision,
    KycDocument,
    KycLevel,
    KycQuestionnaireResponse,
    RiskLevel,
)
from kyc.profile import latest_profile
from kyc.risk import RiskInputs, assess_risk

REJECTION_REASONS: tuple[str, ...] = (
    "The document is unreadable or blurred.",
    "The document has expired.",
    "The name does not match the profile.",
    "The document is incomplete: a side or a page is missing.",
    "The proof of address is older than three months.",
    "The selfie does not match the identity document.",
)
OPEN_STATUSES = (CaseStatus.SUBMITTED, CaseStatus.AWAITING_SECOND_REVIEW)


async def case_for(session: AsyncSession, client_id: int, *, lock: bool = False) -> KycCase:
    """The client's case, created in ``draft`` the first time it is asked for."""
    statement = select(KycCase).where(KycCase.client_id == client_id)
    if lock:
        statement = statement.with_for_update()
    case = await session.scalar(statement)
    if case is None:
        case = KycCase(
            client_id=client_id,
            status=CaseStatus.DRAFT,
            level=KycLevel.NONE,
            risk_level=RiskLevel.LOW,
            risk_reasons=[],
        )
        session.add(case)
        await session.flush()
    return case


def _record(
    session: AsyncSession,
    case: KycCase,
    action: str,
    actor_id: int,
    *,
    reason: str | None = None,
    document_id: int | None = None,
) -> None:
    session.add(
        KycDecision(
            client_id=case.client_id,
            action=action,
            actor_id=actor_id,
            level=case.level.value,
            reason=reason,
            document_id=document_id,
        )
    )


async def latest_questionnaire(session: AsyncSession, client_id: int) -> KycQuestionnaireResponse | None:
    return await session.scalar(
        select(KycQuestionnaireResponse)
        .where(KycQuestionnaireResponse.client_id == client_id)
        .order_by(KycQuestionnaireResponse.id.desc())
        .limit(1)
    )


async def refresh_case(session: AsyncSession, client_id: int, actor_id: int, now: datetime) -> KycCase:
    """Recompute risk and the basic level after the client changed their profile or answers.

    A profile changed after approval puts the case back in review and the level back to basic:
    the approval was of facts that are no longer the client's.
    """
    case = await case_for(session, client_id, lock=True)
    profile = await latest_profile(session, client_id)
    answers = await latest_questionnaire(session, client_id)
    if profile is None:
        return case
    assessment = assess_risk(
        RiskInputs(
            profile.nationality,
            profile.country_of_residence,
            profile.tax_residence,
            profile.is_pep,
            profile.is_sanctioned,
            None if answers is None else answers.passed,
        ),
        await load_country_lists(session),
    )
    case.risk_level = assessment.level
    case.risk_reasons = list(assessment.reasons)
    if assessment.blocked:
        if case.level is not KycLevel.NONE:
            case.level = KycLevel.NONE
            _record(session, case, "blocked", actor_id, reason="; ".join(assessment.reasons))
        return case
    if case.status is CaseStatus.APPROVED and case.approved_profile_version != profile.version:
        case.status = CaseStatus.SUBMITTED
        case.level = KycLevel.BASIC
        case.submitted_at = now
        _record(session, case, "profile_changed_after_approval", actor_id)
    elif case.level is KycLevel.NONE and answers is not None:
        case.level = KycLevel.BASIC
        _record(session, case, "basic_level_granted", actor_id)
    return case


async def submit_for_review(session: AsyncSession, client_id: int, actor_id: int, now: datetime) -> KycCase:
    case = await refresh_case(session, client_id, actor_id, now)
    if case.level is KycLevel.NONE:
        raise ReviewError("Complete your profile and the questionnaire first.")
    if case.status in OPEN_STATUSES:
        raise ReviewError("Your documents are already waiting for review.")
    if case.status is CaseStatus.APPROVED:
        raise ReviewError("You are already verified.")
    if not identity_documents_complete(await client_documents(session, client_id), approved_only=False):
        raise ReviewError("Upload an identity document (all its sides), a proof of address and a selfie.")
    case.status = CaseStatus.SUBMITTED
    case.submitted_at = now
    case.first_reviewer_id = None
    case.second_reviewer_id = None
    _record(session, case, "submitted", actor_id)
    return case


async def review_document(
    session: AsyncSession,
    document_id: int,
    reviewer_id: int,
    *,
    approve: bool,
    reason: str | None,
    now: datetime,
) -> KycDocument:
    document = await session.get(KycDocument, document_id)
    if document is None:
        raise ReviewError("No such document.")
    case = await case_for(session, document.client_id, lock=True)
    if case.status not in OPEN_STATUSES:
        raise ReviewError("This client's case is not waiting for review.")
    if not approve and not (reason and reason.strip()):
        raise ReviewError("Give a reason for the rejection.")
    document.status = DocumentStatus.APPROVED if approve else DocumentStatus.REJECTED
    document.rejection_reason = None if approve else reason.strip() if reason else None
    document.reviewed_by = reviewer_id
    document.reviewed_at = now
    _record(
        session,
        case,
        "document_approved" if approve else "document_rejected",
        reviewer_id,
        reason=document.rejection_reason,
        document_id=document.id,
    )
    return document


async def decide(
    session: AsyncSession,
    client_id: int,
    reviewer_id: int,
    *,
    approve: bool,
    reason: str | None,
    now: datetime,
    four_eyes_for_high_risk: bool = True,
) -> KycCase:
    """Approve (level full) or reject the case. High-risk approvals need a second, different reviewer."""
    case = await case_for(session, client_id, lock=True)
    if case.status not in OPEN_STATUSES:
        raise ReviewError("This case is not waiting for a decision.")
    if not approve:
        if not (reason and reason.strip()):
            raise ReviewError("Give a reason for the rejection.")
        case.status = CaseStatus.REJECTED
        case.decision_reason = reason.strip()
        case.decided_at = now
        _record(session, case, "rejected", reviewer_id, reason=case.decision_reason)
        record_event(session, EventKind.KYC_REJECTED, client_id=client_id)
        return case
    if not identity_documents_complete(await client_documents(session, client_id), approved_only=True):
        raise ReviewError("Approve an identity document (all sides), a proof of address and a selfie first.")
    profile = await latest_profile(session, client_id)
    if case.status is CaseStatus.AWAITING_SECOND_REVIEW:
        if case.first_reviewer_id == reviewer_id:
            raise SameReviewerError("A second reviewer must confirm this high-risk client.")
        case.second_reviewer_id = reviewer_id
    elif four_eyes_for_high_risk and case.effective_risk is RiskLevel.HIGH:
        case.status = CaseStatus.AWAITING_SECOND_REVIEW
        case.first_reviewer_id = reviewer_id
        _record(session, case, "first_approval", reviewer_id, reason=reason)
        return case
    else:
        case.first_reviewer_id = reviewer_id
    case.status = CaseStatus.APPROVED
    case.level = KycLevel.FULL
    case.approved_profile_version = profile.version if profile else None
    case.decision_reason = reason.strip() if reason else None
    case.decided_at = now
    _record(session, case, "approved", reviewer_id, reason=case.decision_reason)
    record_event(session, EventKind.KYC_APPROVED, client_id=client_id, level=str(case.level))
    return case


async def override_risk(
    session: AsyncSession, client_id: int, actor_id: int, level: RiskLevel | None, reason: str
) -> KycCase:
    """Set (or clear, with ``None``) the staff override of the computed risk level."""
    if not reason.strip():
        raise ReviewError("Give a reason for the risk override.")
    case = await case_for(session, client_id, lock=True)
    case.risk_override = level
    case.risk_override_reason = reason.strip()
    _record(
        session, case, f"risk_override:{level.value if level else 'cleared'}", actor_id, reason=reason.strip()
    )
    return case


SYSTEM_REVIEWER_ID = 0
"""The actor id recorded when a verification vendor, not a person, made the decision."""


async def apply_provider_verdict(
    session: AsyncSession, client_id: int, verdict: str, reason: str | None, now: datetime
) -> KycCase:
    """A vendor's green approves the pending documents and the case (a high-risk client still needs a
    person to confirm); red rejects the case with the vendor's reason."""
    case = await case_for(session, client_id, lock=True)
    if case.status not in OPEN_STATUSES:
        raise ReviewError("This case is not waiting for a decision.")
    if verdict == "red":
        return await decide(
            session,
            client_id,
            SYSTEM_REVIEWER_ID,
            approve=False,
            reason=reason or "Rejected by the verification provider.",
            now=now,
        )
    for document in await client_documents(session, client_id):
        if document.status is DocumentStatus.PENDING:
            await review_document(
                session, document.id, SYSTEM_REVIEWER_ID, approve=True, reason=None, now=now
            )
    return await decide(
        session, client_id, SYSTEM_REVIEWER_ID, approve=True, reason="verification provider", now=now
    )
