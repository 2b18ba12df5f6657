"""Security headers on every response: a strict CSP with no outside origins, no framing."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from litestar.datastructures import MutableScopeHeaders
from litestar.types import BeforeMessageSendHookHandler, Message, Scope


def content_security_policy(form_targets: Sequence[str] = ()) -> str:
    """The policy; ``form_targets`` are origins a form's answer may redirect the browser to.

    Browsers check ``form-action`` on every redirect that follows a form's submission, so a form
    whose answer sends the visitor on to a payment provider's hosted page (or a verification
    vendor) is blocked unless that origin is listed here.
    """
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            " ".join(["form-action 'self'", *form_targets]),
            "frame-ancestors 'none'",
        ]
    )


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``; empty for anything but an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


CONTENT_SECURITY_POLICY = content_security_policy()
HSTS = "max-age=63072000; includeSubDomains"


def security_headers(*, hsts: bool, form_targets: Sequence[str] = ()) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(form_targets),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if hsts:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def security_headers_hook(*, hsts: bool, form_targets: Sequence[str] = ()) -> BeforeMessageSendHookHandler:
    """A ``before_send`` hook, so that every answer gets the headers, unrouted 404s included."""
    headers = security_headers(hsts=hsts, form_targets=form_targets)

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            mutable = MutableScopeHeaders.from_message(message)
            for name, value in headers.items():
                if name not in mutable:
                    mutable[name] = value

    return add_headers
