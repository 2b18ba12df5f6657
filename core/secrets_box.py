"""Small secrets encrypted at rest (AES-256-GCM): server passwords, passwords waiting in an outbox.

The key is the file store's key (:func:`core.storage.storage_key_bytes`), so one setting protects
every secret at rest. ``context`` is bound as associated data: a secret sealed for one row can't be
replayed into another row's column, because opening it there fails its integrity check.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import CoreError
from core.settings import Settings
from core.storage import storage_key_bytes

MAGIC = b"BDS1"
NONCE_BYTES = 12


class SealedSecretError(CoreError):
    """Raised when a sealed secret was tampered with, moved to another context or sealed under another key."""


class SecretsBox:
    """Seals and opens short secrets with one AES-GCM key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretsBox:
        return cls(storage_key_bytes(settings))

    def seal(self, plaintext: str, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return MAGIC + nonce + self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode())

    def open(self, sealed: bytes, context: str) -> str:
        if not sealed.startswith(MAGIC):
            raise SealedSecretError("not a sealed secret")
        nonce = sealed[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
        try:
            plain = self._aead.decrypt(nonce, sealed[len(MAGIC) + NONCE_BYTES :], context.encode())
        except InvalidTag:
            raise SealedSecretError("sealed secret failed its integrity check") from None
        return plain.decode("utf-8")
