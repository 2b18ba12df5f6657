"""Small JSON shapes shared by both apps' APIs."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from litestar import Litestar, Request, get
from litestar.handlers import HTTPRouteHandler

from core.i18n.catalogs import LANGUAGES, current_language
from core.web.state import app_services


def brokerdesk_version() -> str:
    try:
        return version("brokerdesk")
    except PackageNotFoundError:
        return "0.0.0"


@dataclass(frozen=True)
class ApiInfo:
    """The app's name and version, the supported languages and the one in use for this request."""

    app: str
    version: str
    languages: list[str]
    language: str


def api_info(app: Litestar) -> ApiInfo:
    return ApiInfo(
        app=app_services(app).name,
        version=brokerdesk_version(),
        languages=list(LANGUAGES),
        language=current_language(),
    )


def info_route(app_name: str) -> HTTPRouteHandler:
    """``GET /info`` for one app: mounted under each app's ``/api/v1`` router."""

    @get("/info", name=f"{app_name}.api.info", summary="What this API is and which languages it speaks")
    async def info(request: Request[Any, Any, Any]) -> ApiInfo:
        return api_info(request.app)

    return info
