"""Choosing the language of a request: the switcher's cookie, else ``Accept-Language``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, post
from litestar.enums import RequestEncodingType, ScopeType
from litestar.params import Body
from litestar.response import Redirect
from litestar.types import ASGIApp, Receive, Scope, Send

from core.i18n.catalogs import LANGUAGES, language_from_accept_header, normalise_language, set_language

LANGUAGE_COOKIE = "bd_lang"
ONE_YEAR = 365 * 24 * 3600


class LanguageMiddleware:
    """Sets the current language for the request from the cookie or the browser's preference."""

    def __init__(self, app: ASGIApp, *, default: str = "en") -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            set_language(language_for_scope(scope, self.default))
        await self.app(scope, receive, send)


def language_for_scope(scope: Scope, default: str) -> str:
    """The switcher's cookie, else the browser's ``Accept-Language``, else ``default``."""
    cookie_language = None
    accept = None
    for name, value in scope["headers"]:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, cookie_value = part.strip().partition("=")
                if key == LANGUAGE_COOKIE:
                    cookie_language = normalise_language(cookie_value)
        elif name == b"accept-language":
            accept = value.decode("latin-1")
    return cookie_language or language_from_accept_header(accept) or default


def safe_next(target: str | None) -> str:
    """Only same-site relative paths; anything else goes home, so the switcher is no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@post("/language", name="language.switch", sync_to_thread=False, status_code=303, include_in_schema=False)
def switch_language(
    request: Request[Any, Any, Any],
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Remember the chosen language in a cookie and go back to the page the visitor was on."""
    language = normalise_language(data.get("language"))
    response: Response[Any] = Redirect(safe_next(data.get("next")), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=ONE_YEAR,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response
