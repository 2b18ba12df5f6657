"""Attachments of ticket messages: checked by their bytes like KYC uploads, stored encrypted.

The checks run before anything is written, so a refused file leaves no row and no stored file.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.sniffing import JPEG, PDF, PNG, sniff_content_type
from core.storage import EncryptedFileStore, StoredFile
from kyc.documents import safe_filename
from support.errors import AttachmentTooLargeError, UnsupportedAttachmentError

ACCEPTED_TYPES = frozenset({JPEG, PNG, PDF})


@dataclass(frozen=True)
class Upload:
    """A file as the client sent it: its name and bytes (read to at most the limit plus one)."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedUpload:
    filename: str
    data: bytes
    content_type: str


def check_upload(upload: Upload, max_bytes: int) -> CheckedUpload:
    """Refuse an empty, oversized or (by content) unsupported file."""
    if not upload.data:
        raise UnsupportedAttachmentError("The attachment is empty.")
    if len(upload.data) > max_bytes:
        raise AttachmentTooLargeError(max_bytes)
    content_type = sniff_content_type(upload.data)
    if content_type not in ACCEPTED_TYPES:
        raise UnsupportedAttachmentError(
            "Only JPEG, PNG and PDF files are accepted, judged by their content."
        )
    return CheckedUpload(filename=safe_filename(upload.filename), data=upload.data, content_type=content_type)


def store_upload(store: EncryptedFileStore, upload: CheckedUpload) -> StoredFile:
    return store.put(upload.data)
