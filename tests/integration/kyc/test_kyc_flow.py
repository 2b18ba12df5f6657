"""The KYC path through the services, on the real database: profile, questionnaire, documents,
review (with four eyes), gates, provider webhooks and expiry."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core.db import Database
from core.storage import EncryptedFileStore
from kyc import documents, gates, review
from kyc.config import QuestionnaireConfig
from kyc.errors import (
    DocumentNotFoundError,
    FileTooLargeError,
    KycLevelRequiredError,
    ReviewError,
    SameReviewerError,
    UnsupportedFileError,
    WebhookRejectedError,
)
from kyc.expiry import claim_expiring_documents
from kyc.models import (
    CaseStatus,
    DocumentKind,
    DocumentSide,
    DocumentStatus,
    KycDocument,
    KycLevel,
    RiskLevel,
)
from kyc.profile import ProfileInput, add_profile_version
from kyc.providers import SandboxProvider, record_event_once, sign
from kyc.questionnaire import submit_questionnaire
from tests.unit.kyc.test_rules import VALID, with_fields

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
JPEG = b"\xff\xd8\xff\xe0" + b"JFIF-demo-identity-document" * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"demo-selfie" * 40
PDF = b"%PDF-1.4\n" + b"demo proof of address " * 40
CLIENT, OTHER_CLIENT, REVIEWER, SECOND_REVIEWER = 101, 202, 9001, 9002
MAX_BYTES = 1024 * 1024


@pytest.fixture
def store(tmp_path: Path) -> EncryptedFileStore:
    return EncryptedFileStore(tmp_path / "files", b"k" * 32)


def best_answers() -> dict[str, str]:
    return {q.key: max(q.choices, key=lambda c: c.points).value for q in QuestionnaireConfig().questions}


async def onboard(
    db: Database, store: EncryptedFileStore, client_id: int, profile: ProfileInput = VALID
) -> None:
    """Profile, questionnaire and a complete document set, submitted for review."""
    async with db.transaction() as session:
        await add_profile_version(session, client_id, profile, actor_id=client_id, today=TODAY)
        await submit_questionnaire(session, client_id, best_answers())
        await review.refresh_case(session, client_id, client_id, NOW)
        upload = {
            "client_id": client_id,
            "expires_on": date(2030, 1, 1),
            "max_bytes": MAX_BYTES,
            "today": TODAY,
        }
        await documents.upload_document(
            session,
            store,
            kind=DocumentKind.NATIONAL_ID,
            side=DocumentSide.FRONT,
            filename="id-front.jpg",
            data=JPEG,
            **upload,
        )
        await documents.upload_document(
            session,
            store,
            kind=DocumentKind.NATIONAL_ID,
            side=DocumentSide.BACK,
            filename="id-back.jpg",
            data=JPEG,
            **upload,
        )
        await documents.upload_document(
            session,
            store,
            kind=DocumentKind.PROOF_OF_ADDRESS,
            side=DocumentSide.SINGLE,
            filename="bill.pdf",
            data=PDF,
            **{**upload, "expires_on": None},
        )
        await documents.upload_document(
            session,
            store,
            kind=DocumentKind.SELFIE,
            side=DocumentSide.SINGLE,
            filename="me.png",
            data=PNG,
            **{**upload, "expires_on": None},
        )
        await review.submit_for_review(session, client_id, client_id, NOW)


async def approve_all_documents(db: Database, client_id: int, reviewer: int) -> None:
    async with db.transaction() as session:
        for document in await documents.client_documents(session, client_id):
            await review.review_document(session, document.id, reviewer, approve=True, reason=None, now=NOW)


async def test_profile_versions_and_basic_level(db: Database) -> None:
    async with db.transaction() as session:
        first = await add_profile_version(session, CLIENT, VALID, actor_id=CLIENT, today=TODAY)
        second = await add_profile_version(
            session, CLIENT, with_fields(city="Newtown"), actor_id=CLIENT, today=TODAY
        )
        assert (first.version, second.version) == (1, 2)
        case = await review.refresh_case(session, CLIENT, CLIENT, NOW)
        assert case.level is KycLevel.NONE  # questionnaire not done yet
        await submit_questionnaire(session, CLIENT, best_answers())
        case = await review.refresh_case(session, CLIENT, CLIENT, NOW)
        assert case.level is KycLevel.BASIC
        assert case.risk_level is RiskLevel.LOW


async def test_invalid_profile_stores_nothing(db: Database) -> None:
    from kyc.errors import InvalidProfileError

    with pytest.raises(InvalidProfileError):
        async with db.transaction() as session:
            await add_profile_version(
                session, CLIENT, with_fields(birth_date="2015-01-01"), actor_id=CLIENT, today=TODAY
            )
    async with db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM kyc_profile_version")) == 0


async def test_low_score_needs_acknowledged_warning(db: Database) -> None:
    from kyc.errors import InvalidProfileError

    worst = {q.key: min(q.choices, key=lambda c: c.points).value for q in QuestionnaireConfig().questions}
    async with db.transaction() as session:
        with pytest.raises(InvalidProfileError, match="confirm"):
            await submit_questionnaire(session, CLIENT, worst)
        response = await submit_questionnaire(session, CLIENT, worst, acknowledge_warning=True)
        assert (response.passed, response.warning_acknowledged) == (False, True)


async def test_uploads_are_checked_by_content_and_size(db: Database, store: EncryptedFileStore) -> None:
    upload = {
        "client_id": CLIENT,
        "kind": DocumentKind.PASSPORT,
        "side": DocumentSide.SINGLE,
        "expires_on": date(2030, 1, 1),
        "max_bytes": MAX_BYTES,
        "today": TODAY,
    }
    async with db.transaction() as session:
        with pytest.raises(UnsupportedFileError):
            await documents.upload_document(
                session, store, filename="passport.jpg", data=b"MZ\x90\x00" + b"\x00" * 500, **upload
            )
        with pytest.raises(FileTooLargeError):
            await documents.upload_document(
                session, store, filename="big.jpg", data=b"\xff\xd8\xff" + b"\x00" * MAX_BYTES, **upload
            )
        with pytest.raises(Exception, match="expired"):
            await documents.upload_document(
                session, store, filename="old.jpg", data=JPEG, **{**upload, "expires_on": date(2020, 1, 1)}
            )
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(KycDocument)) == 0
    assert not any(p.is_file() for p in store.root.rglob("*")) if store.root.exists() else True


async def test_stored_file_is_encrypted_and_only_its_owner_or_a_reviewer_reads_it(
    db: Database, store: EncryptedFileStore
) -> None:
    async with db.transaction() as session:
        document = await documents.upload_document(
            session,
            store,
            client_id=CLIENT,
            kind=DocumentKind.PASSPORT,
            side=DocumentSide.SINGLE,
            filename="../../etc/passport.jpg",
            data=JPEG,
            expires_on=date(2030, 1, 1),
            max_bytes=MAX_BYTES,
            today=TODAY,
        )
    on_disk = next(p for p in store.root.rglob("*") if p.is_file()).read_bytes()
    assert b"JFIF-demo-identity-document" not in on_disk
    assert document.original_name == "passport.jpg"
    async with db.session() as session:
        _, owner_bytes = await documents.read_document(session, store, document.id, documents.Viewer(CLIENT))
        assert owner_bytes == JPEG
        _, reviewer_bytes = await documents.read_document(
            session, store, document.id, documents.Viewer(REVIEWER, is_reviewer=True)
        )
        assert reviewer_bytes == JPEG
        with pytest.raises(DocumentNotFoundError):
            await documents.read_document(session, store, document.id, documents.Viewer(OTHER_CLIENT))


async def test_review_approves_to_full_and_gates_follow(db: Database, store: EncryptedFileStore) -> None:
    await onboard(db, store, CLIENT)
    async with db.session() as session:
        with pytest.raises(KycLevelRequiredError):
            await gates.require_withdrawal_allowed(session, CLIENT)
        with pytest.raises(KycLevelRequiredError):
            await gates.require_live_account_allowed(session, CLIENT)
        await gates.require_deposit_allowed(session, CLIENT, 100_000)
        with pytest.raises(KycLevelRequiredError, match="need verified documents"):
            await gates.require_deposit_allowed(session, CLIENT, 150_000, deposited_before_usd_minor=100_000)
        with pytest.raises(KycLevelRequiredError, match="profile"):
            await gates.require_deposit_allowed(session, OTHER_CLIENT, 100)

    async with db.transaction() as session:
        with pytest.raises(ReviewError, match="Approve an identity document"):
            await review.decide(session, CLIENT, REVIEWER, approve=True, reason=None, now=NOW)
    await approve_all_documents(db, CLIENT, REVIEWER)
    async with db.transaction() as session:
        case = await review.decide(session, CLIENT, REVIEWER, approve=True, reason="documents match", now=NOW)
        assert (case.status, case.level) == (CaseStatus.APPROVED, KycLevel.FULL)
    async with db.session() as session:
        await gates.require_withdrawal_allowed(session, CLIENT)
        await gates.require_live_account_allowed(session, CLIENT)
        await gates.require_deposit_allowed(session, CLIENT, 10_000_000)


async def test_rejecting_needs_a_reason(db: Database, store: EncryptedFileStore) -> None:
    await onboard(db, store, CLIENT)
    async with db.transaction() as session:
        document = (await documents.client_documents(session, CLIENT))[0]
        with pytest.raises(ReviewError, match="reason"):
            await review.review_document(session, document.id, REVIEWER, approve=False, reason=" ", now=NOW)
        rejected = await review.review_document(
            session, document.id, REVIEWER, approve=False, reason=review.REJECTION_REASONS[0], now=NOW
        )
        assert rejected.status is DocumentStatus.REJECTED
        case = await review.decide(session, CLIENT, REVIEWER, approve=False, reason="blurred ID", now=NOW)
        assert (case.status, case.level) == (CaseStatus.REJECTED, KycLevel.BASIC)


async def test_high_risk_client_needs_a_second_reviewer(db: Database, store: EncryptedFileStore) -> None:
    await onboard(db, store, CLIENT, with_fields(is_pep=True))
    await approve_all_documents(db, CLIENT, REVIEWER)
    async with db.transaction() as session:
        case = await review.decide(session, CLIENT, REVIEWER, approve=True, reason=None, now=NOW)
        assert case.status is CaseStatus.AWAITING_SECOND_REVIEW
        assert case.level is KycLevel.BASIC
    async with db.transaction() as session:
        with pytest.raises(SameReviewerError):
            await review.decide(session, CLIENT, REVIEWER, approve=True, reason=None, now=NOW)
    async with db.transaction() as session:
        case = await review.decide(session, CLIENT, SECOND_REVIEWER, approve=True, reason="EDD done", now=NOW)
        assert (case.status, case.level) == (CaseStatus.APPROVED, KycLevel.FULL)
        assert (case.first_reviewer_id, case.second_reviewer_id) == (REVIEWER, SECOND_REVIEWER)


async def test_profile_change_after_approval_needs_review_again(
    db: Database, store: EncryptedFileStore
) -> None:
    await onboard(db, store, CLIENT)
    await approve_all_documents(db, CLIENT, REVIEWER)
    async with db.transaction() as session:
        await review.decide(session, CLIENT, REVIEWER, approve=True, reason=None, now=NOW)
    async with db.transaction() as session:
        await add_profile_version(
            session, CLIENT, with_fields(address_line="2 Other Road"), actor_id=CLIENT, today=TODAY
        )
        case = await review.refresh_case(session, CLIENT, CLIENT, NOW)
        assert (case.status, case.level) == (CaseStatus.SUBMITTED, KycLevel.BASIC)


async def test_risk_override_is_recorded(db: Database, store: EncryptedFileStore) -> None:
    await onboard(db, store, CLIENT)
    async with db.transaction() as session:
        with pytest.raises(ReviewError):
            await review.override_risk(session, CLIENT, REVIEWER, RiskLevel.HIGH, "")
        case = await review.override_risk(session, CLIENT, REVIEWER, RiskLevel.HIGH, "adverse media")
        assert case.effective_risk is RiskLevel.HIGH
        actions = await session.scalars(text("SELECT action FROM kyc_decision ORDER BY id"))
        assert "risk_override:high" in list(actions)


async def test_provider_webhook_approves_once_and_refuses_replay(
    db: Database, store: EncryptedFileStore
) -> None:
    await onboard(db, store, CLIENT)
    provider = SandboxProvider(b"sandbox-secret")
    body = json.dumps({"event_id": "ev-42", "client_id": CLIENT, "verdict": "green"}).encode()
    headers = {"X-Kyc-Signature": sign(b"sandbox-secret", int(NOW.timestamp()), body)}
    verdict = provider.parse_webhook(headers, body, NOW)
    async with db.transaction() as session:
        await record_event_once(session, verdict)
        case = await review.apply_provider_verdict(session, verdict.client_id, verdict.verdict, None, NOW)
        assert (case.status, case.level) == (CaseStatus.APPROVED, KycLevel.FULL)
    async with db.transaction() as session:
        with pytest.raises(WebhookRejectedError, match="replay"):
            await record_event_once(session, provider.parse_webhook(headers, body, NOW))


async def test_expiring_documents_are_claimed_once(db: Database, store: EncryptedFileStore) -> None:
    await onboard(db, store, CLIENT)
    await approve_all_documents(db, CLIENT, REVIEWER)
    async with db.transaction() as session:
        assert await claim_expiring_documents(session, date(2029, 11, 1), 30, NOW) == []
        claimed = await claim_expiring_documents(session, date(2029, 12, 15), 30, NOW)
        assert {d.kind for d in claimed} == {DocumentKind.NATIONAL_ID}
        assert len(claimed) == 2
    async with db.transaction() as session:
        assert await claim_expiring_documents(session, date(2029, 12, 15), 30, NOW) == []
