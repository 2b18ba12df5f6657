"""What an uploaded file really is, judged by its first bytes and never by its name."""

from __future__ import annotations

JPEG = "image/jpeg"
PNG = "image/png"
PDF = "application/pdf"

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"%PDF-", PDF),
)


def sniff_content_type(data: bytes) -> str | None:
    """The media type the bytes prove, or ``None`` when they are none of the accepted kinds."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    return None
