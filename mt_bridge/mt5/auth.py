"""The Web API's MD5 challenge, used by the client and by the emulator alike.

Each side proves it holds the password without sending it: the client answers the server's
random bytes and the server answers the client's, both with ``MD5(password hash + random)``.
"""

from __future__ import annotations

import hashlib
import secrets

WEBAPI_SALT = b"WebAPI"
RAND_BYTES = 16


def password_hash(password: str) -> bytes:
    """``MD5(MD5(password as UTF-16LE) + b"WebAPI")`` as raw bytes (the docs' "password hash")."""
    inner = hashlib.md5(password.encode("utf-16-le"), usedforsecurity=False).digest()
    return hashlib.md5(inner + WEBAPI_SALT, usedforsecurity=False).digest()


def challenge_answer(hashed_password: bytes, rand_hex: str) -> str:
    """The hex answer to a challenge: ``MD5(password hash + bytes of rand)``.

    Raises ValueError when ``rand_hex`` is not hex.
    """
    rand = bytes.fromhex(rand_hex)
    return hashlib.md5(hashed_password + rand, usedforsecurity=False).hexdigest()


def new_rand() -> str:
    """Fresh random challenge bytes, as the hex string that goes on the wire."""
    return secrets.token_hex(RAND_BYTES)


def answers_match(expected: str, received: str) -> bool:
    """Compare two hex answers in constant time, ignoring letter case."""
    return secrets.compare_digest(expected.lower().encode("utf-8"), received.strip().lower().encode("utf-8"))
