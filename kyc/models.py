"""KYC tables. Profiles are versioned rows, never edited; decisions are an append-only history."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    return Enum(kind, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class KycLevel(enum.StrEnum):
    """What the client may do: browse and demo; deposit up to a limit; everything."""

    NONE = "none"
    BASIC = "basic"
    FULL = "full"


class CaseStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    AWAITING_SECOND_REVIEW = "awaiting_second_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class RiskLevel(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class DocumentKind(enum.StrEnum):
    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    DRIVING_LICENCE = "driving_licence"
    PROOF_OF_ADDRESS = "proof_of_address"
    SELFIE = "selfie"


class DocumentSide(enum.StrEnum):
    FRONT = "front"
    BACK = "back"
    SINGLE = "single"


class DocumentStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class KycProfileVersion(Base):
    """One saved version of a client's profile; a change is a new row with the next version."""

    __tablename__ = "kyc_profile_version"
    __table_args__ = (UniqueConstraint("client_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(index=True)
    version: Mapped[int]
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date]
    nationality: Mapped[str] = mapped_column(String(2))
    country_of_residence: Mapped[str] = mapped_column(String(2))
    address_line: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str] = mapped_column(String(32))
    tax_residence: Mapped[str] = mapped_column(String(2))
    tin: Mapped[str] = mapped_column(String(64))
    employment_status: Mapped[str] = mapped_column(String(32))
    source_of_funds: Mapped[str] = mapped_column(String(32))
    is_pep: Mapped[bool]
    is_sanctioned: Mapped[bool]
    created_by: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KycDocument(Base):
    """An uploaded document: metadata here, the encrypted bytes in the file store."""

    __tablename__ = "kyc_document"
    __table_args__ = (
        CheckConstraint("size_bytes > 0", name="size_positive"),
        Index("ix_kyc_document_client_status", "client_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int]
    kind: Mapped[DocumentKind] = mapped_column(_enum(DocumentKind, "kyc_document_kind"))
    side: Mapped[DocumentSide] = mapped_column(_enum(DocumentSide, "kyc_document_side"))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(200))
    expires_on: Mapped[date | None]
    status: Mapped[DocumentStatus] = mapped_column(
        _enum(DocumentStatus, "kyc_document_status"), default=DocumentStatus.PENDING
    )
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    reviewed_by: Mapped[int | None]
    reviewed_at: Mapped[datetime | None]
    expiry_notified_at: Mapped[datetime | None]
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class KycQuestionnaireResponse(Base):
    """A client's answers to the appropriateness questionnaire and the score they gave."""

    __tablename__ = "kyc_questionnaire_response"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[int]
    threshold: Mapped[int]
    passed: Mapped[bool]
    warning_acknowledged: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KycCase(Base):
    """The client's verification state: one row per client, changed only by the review service."""

    __tablename__ = "kyc_case"

    client_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "kyc_case_status"), default=CaseStatus.DRAFT)
    level: Mapped[KycLevel] = mapped_column(_enum(KycLevel, "kyc_level"), default=KycLevel.NONE)
    risk_level: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel, "kyc_risk_level"), default=RiskLevel.LOW)
    risk_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    risk_override: Mapped[RiskLevel | None] = mapped_column(_enum(RiskLevel, "kyc_risk_override"))
    risk_override_reason: Mapped[str | None] = mapped_column(String(500))
    approved_profile_version: Mapped[int | None]
    first_reviewer_id: Mapped[int | None]
    second_reviewer_id: Mapped[int | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    submitted_at: Mapped[datetime | None] = mapped_column(index=True)
    decided_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def effective_risk(self) -> RiskLevel:
        return self.risk_override or self.risk_level


class KycDecision(Base):
    """Every decision on a case, kept forever: who, what, which level and why."""

    __tablename__ = "kyc_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("kyc_case.client_id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int]
    level: Mapped[str | None] = mapped_column(String(16))
    document_id: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KycConfig(Base):
    """Compliance's settings for KYC (questionnaire, country lists, limits) as JSON documents."""

    __tablename__ = "kyc_config"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class KycProviderEvent(Base):
    """Webhook events already processed, per provider, so that a replay changes nothing."""

    __tablename__ = "kyc_provider_event"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[int]
    verdict: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
