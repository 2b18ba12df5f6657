"""KYC page tests: files go to the test's own folder and uploads have a small limit."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from core.settings import Settings

MAX_UPLOAD = 64 * 1024
SANDBOX_SECRET = "sandbox-test-secret"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        secret_key="test-secret-key",
        argon2_time_cost=1,
        argon2_memory_kib=256,
        argon2_parallelism=1,
        storage_dir=str(tmp_path / "files"),
        max_upload_bytes=MAX_UPLOAD,
        kyc_sandbox_secret=SANDBOX_SECRET,
    )


def tiny_png(marker: bytes = b"") -> bytes:
    """A real 1x1 PNG (with an optional text chunk so each file differs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    text = chunk(b"tEXt", b"Comment\x00" + marker) if marker else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + text + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def tiny_pdf(text: str = "Demo proof of address") -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
        + f"% {text}\n".encode()
        + b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )
