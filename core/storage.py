"""Files stored encrypted at rest (AES-256-GCM), addressed by an opaque random key.

Uploaded identity documents are the most sensitive data we hold. Each file is encrypted with a
fresh nonce; GCM's tag means a tampered or truncated file is refused rather than served. Files are
never reachable by a static path: the apps read them through their ownership checks.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import CoreError, SettingsError
from core.settings import Settings

MAGIC = b"BDE1"
NONCE_BYTES = 12


class StoredFileError(CoreError):
    """Raised when a stored file is missing, tampered with or encrypted under another key."""


@dataclass(frozen=True)
class StoredFile:
    """Where a file went and what it was: its storage key, SHA-256 of the plaintext and size."""

    key: str
    sha256: str
    size: int


def storage_key_bytes(settings: Settings) -> bytes:
    if settings.storage_key:
        key = base64.b64decode(settings.storage_key)
        if len(key) != 32:
            raise SettingsError("BROKERDESK_STORAGE_KEY must be base64 of exactly 32 bytes")
        return key
    return hashlib.sha256(b"brokerdesk-file-storage:" + settings.effective_secret_key.encode()).digest()


class EncryptedFileStore:
    """A folder of AES-GCM encrypted files."""

    def __init__(self, root: Path, key: bytes) -> None:
        self.root = root
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> EncryptedFileStore:
        return cls(Path(settings.storage_dir), storage_key_bytes(settings))

    def _path(self, key: str) -> Path:
        if len(key) != 32 or not all(c in "0123456789abcdef" for c in key):
            raise StoredFileError("malformed storage key")
        return self.root / key[:2] / key

    def put(self, data: bytes) -> StoredFile:
        key = secrets.token_hex(16)
        nonce = os.urandom(NONCE_BYTES)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        temporary.write_bytes(MAGIC + nonce + self._aead.encrypt(nonce, data, key.encode()))
        temporary.replace(path)
        return StoredFile(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data))

    def get(self, key: str) -> bytes:
        try:
            blob = self._path(key).read_bytes()
        except FileNotFoundError:
            raise StoredFileError("stored file not found") from None
        if not blob.startswith(MAGIC):
            raise StoredFileError("not a BrokerDesk encrypted file")
        nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES :], key.encode())
        except InvalidTag:
            raise StoredFileError("stored file failed its integrity check") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
