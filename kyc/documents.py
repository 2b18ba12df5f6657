"""Uploading and reading KYC documents: checked by content, stored encrypted, shown only to their
owner and to reviewers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.sniffing import sniff_content_type
from core.storage import EncryptedFileStore
from kyc.errors import DocumentNotFoundError, FileTooLargeError, InvalidProfileError, UnsupportedFileError
from kyc.models import DocumentKind, DocumentSide, DocumentStatus, KycDocument

ACCEPTED_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})
TWO_SIDED = frozenset({DocumentKind.NATIONAL_ID, DocumentKind.DRIVING_LICENCE})
IDENTITY_KINDS = frozenset({DocumentKind.PASSPORT, DocumentKind.NATIONAL_ID, DocumentKind.DRIVING_LICENCE})
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class Viewer:
    """Who asks for a document: a client sees their own; a reviewer (``kyc.review``) sees all."""

    user_id: int
    is_reviewer: bool = False


def allowed_sides(kind: DocumentKind) -> frozenset[DocumentSide]:
    if kind in TWO_SIDED:
        return frozenset({DocumentSide.FRONT, DocumentSide.BACK})
    return frozenset({DocumentSide.SINGLE})


def safe_filename(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return (_UNSAFE_NAME.sub("_", base).strip(" .") or "document")[:200]


async def upload_document(
    session: AsyncSession,
    store: EncryptedFileStore,
    *,
    client_id: int,
    kind: DocumentKind,
    side: DocumentSide,
    filename: str,
    data: bytes,
    expires_on: date | None,
    max_bytes: int,
    today: date,
) -> KycDocument:
    """Check the file by its bytes, encrypt it to the store, and record it as pending review."""
    if not data:
        raise UnsupportedFileError("The file is empty.")
    if len(data) > max_bytes:
        raise FileTooLargeError(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    content_type = sniff_content_type(data)
    if content_type not in ACCEPTED_TYPES:
        raise UnsupportedFileError("Only JPEG, PNG and PDF files are accepted, judged by their content.")
    if side not in allowed_sides(kind):
        raise InvalidProfileError({"side": "This document has no such side."})
    if kind in IDENTITY_KINDS:
        if expires_on is None:
            raise InvalidProfileError({"expires_on": "Enter the document's expiry date."})
        if expires_on <= today:
            raise InvalidProfileError({"expires_on": "This document has expired."})
    stored = store.put(data)
    document = KycDocument(
        client_id=client_id,
        kind=kind,
        side=side,
        content_type=content_type,
        size_bytes=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        original_name=safe_filename(filename),
        expires_on=expires_on,
        status=DocumentStatus.PENDING,
    )
    session.add(document)
    await session.flush()
    return document


async def visible_document(session: AsyncSession, document_id: int, viewer: Viewer) -> KycDocument:
    """The document if ``viewer`` may see it; otherwise not found, so ids reveal nothing."""
    document = await session.get(KycDocument, document_id)
    if document is None or not (viewer.is_reviewer or document.client_id == viewer.user_id):
        raise DocumentNotFoundError("No such document.")
    return document


async def read_document(
    session: AsyncSession, store: EncryptedFileStore, document_id: int, viewer: Viewer
) -> tuple[KycDocument, bytes]:
    document = await visible_document(session, document_id, viewer)
    return document, store.get(document.storage_key)


async def client_documents(session: AsyncSession, client_id: int) -> list[KycDocument]:
    result = await session.scalars(
        select(KycDocument)
        .where(KycDocument.client_id == client_id)
        .order_by(KycDocument.uploaded_at, KycDocument.id)
    )
    return list(result)


def identity_documents_complete(documents: list[KycDocument], *, approved_only: bool) -> bool:
    """An identity document with all its sides, a proof of address and a selfie."""
    usable = [
        d
        for d in documents
        if d.status is DocumentStatus.APPROVED or (not approved_only and d.status is DocumentStatus.PENDING)
    ]
    has_identity = any(
        allowed_sides(kind) <= {d.side for d in usable if d.kind is kind} for kind in IDENTITY_KINDS
    )
    kinds = {d.kind for d in usable}
    return has_identity and DocumentKind.PROOF_OF_ADDRESS in kinds and DocumentKind.SELFIE in kinds
