"""Signed per-recipient URLs of a campaign mail: the open pixel, click redirects, unsubscribe.

A token names the recipient row (and, for a click, the index of the link in the campaign's list)
and carries an HMAC of it under a key derived from the secret key, so nobody can count an open or
a click for another recipient, unsubscribe someone else, or make the redirect point elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from comms.errors import BadTrackingTokenError

OPEN = "open"
CLICK = "click"
UNSUBSCRIBE = "unsubscribe"
_SIGNATURE_CHARS = 22
"""132 bits of the HMAC, URL-safe base64: short links, and no forgery by guessing."""
_TOKEN = re.compile(r"^(\d{1,18})(?:-(\d{1,4}))?-([A-Za-z0-9_-]{22})$")
URL = re.compile(r"https?://[^\s<>\"'{}]+")
_TRAILING = ".,;:!?)]"
MAX_LINKS = 50


def _key(secret_key: str) -> bytes:
    return hashlib.sha256(b"brokerdesk-campaign-links:" + secret_key.encode()).digest()


def _signature(secret_key: str, purpose: str, recipient_id: int, index: int | None) -> str:
    message = f"{purpose}:{recipient_id}:{'' if index is None else index}".encode()
    digest = hmac.new(_key(secret_key), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_SIGNATURE_CHARS]


def sign(secret_key: str, purpose: str, recipient_id: int, index: int | None = None) -> str:
    """The token of one recipient's open pixel, unsubscribe link, or click on link ``index``."""
    middle = "" if index is None else f"-{index}"
    return f"{recipient_id}{middle}-{_signature(secret_key, purpose, recipient_id, index)}"


def read(secret_key: str, purpose: str, token: str) -> tuple[int, int | None]:
    """The recipient id and link index a token names; :class:`BadTrackingTokenError` otherwise."""
    match = _TOKEN.match(token)
    if match is None:
        raise BadTrackingTokenError("this link is not one of ours")
    recipient_id = int(match.group(1))
    index = int(match.group(2)) if match.group(2) is not None else None
    if (index is None) != (purpose != CLICK):
        raise BadTrackingTokenError("this link is not one of ours")
    expected = _signature(secret_key, purpose, recipient_id, index)
    if not hmac.compare_digest(expected, match.group(3)):
        raise BadTrackingTokenError("this link is not one of ours")
    return recipient_id, index


@dataclass(frozen=True)
class RecipientLinks:
    """The URLs one recipient's mail carries, on the portal's public base URL."""

    base_url: str
    secret_key: str
    recipient_id: int

    def _url(self, path: str, purpose: str, index: int | None = None) -> str:
        return f"{self.base_url.rstrip('/')}{path}{sign(self.secret_key, purpose, self.recipient_id, index)}"

    @property
    def open_pixel(self) -> str:
        return self._url("/mail/open/", OPEN) + ".gif"

    @property
    def unsubscribe(self) -> str:
        return self._url("/unsubscribe/", UNSUBSCRIBE)

    def click(self, index: int) -> str:
        return self._url("/mail/click/", CLICK, index)


def _trimmed(url: str) -> str:
    return url.rstrip(_TRAILING)


def literal_links(*sources: str) -> list[str]:
    """The literal http(s) links of the bodies, in order of first appearance, each once.

    A link built with a template expression (``https://x/{{ code }}``) differs per recipient and
    is left as written, untracked: only a fixed list can be redirected to safely."""
    found: list[str] = []
    for source in sources:
        for match in URL.finditer(source):
            if source[match.end() : match.end() + 1] == "{":
                continue
            url = _trimmed(match.group(0))
            if url not in found:
                found.append(url)
    return found[:MAX_LINKS]


def rewrite(text: str, links: list[str], click_url: dict[str, str]) -> str:
    """Each whole occurrence of a campaign link in ``text`` replaced by its click URL."""
    if not links:
        return text
    alternatives = "|".join(re.escape(link) for link in sorted(links, key=len, reverse=True))
    pattern = re.compile(rf"(?:{alternatives})(?![^\s<>\"'.,;:!?)\]])")
    return pattern.sub(lambda m: click_url[m.group(0)], text)
