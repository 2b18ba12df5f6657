"""Error answers that say what is wrong and never show a traceback.

Pages get a rendered error page; ``/api/`` paths and clients asking for JSON get a JSON body
``{"status_code": …, "detail": …}``, the shape the OpenAPI schema documents.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from core.errors import NotFoundError, PermissionDeniedError
from core.i18n import gettext as _
from core.i18n.catalogs import set_language
from core.web.language import language_for_scope
from core.web.state import app_services

logger = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Access denied",
    404: "Page not found",
    405: "Method not allowed",
    413: "Upload too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Service unavailable",
}
EXPLANATIONS = {
    403: "You do not have permission to open this page.",
    404: "The page you asked for does not exist or is not available to you.",
    413: "The upload is larger than we accept. Please go back and choose a smaller file.",
    429: "You have tried this too often. Please wait a moment and try again.",
    500: "An unexpected error happened on our side. It has been logged; please try again later.",
}


def wants_json(request: Request[Any, Any, Any]) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(request: Request[Any, Any, Any], status_code: int, detail: str | None) -> Response[Any]:
    # Unrouted paths (404, 405) never pass through the app's middleware, so pick the language here.
    set_language(language_for_scope(request.scope, app_services(request.app).settings.default_language))
    title = _(TITLES.get(status_code, "Error"))
    message = detail or _(EXPLANATIONS.get(status_code, TITLES.get(status_code, "Error")))
    if wants_json(request):
        return Response({"status_code": status_code, "detail": message}, status_code=status_code)
    engine = request.app.template_engine
    if engine is None:
        return Response(message, status_code=status_code, media_type=MediaType.TEXT)
    body = engine.get_template("error.html").render(
        request=request, status_code=status_code, title=title, message=message
    )
    return Response(body, status_code=status_code, media_type=MediaType.HTML)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Keep a specific detail (a validation message, say); replace a bare status phrase by our text."""
    generic = {HTTPStatus(exc.status_code).phrase, TITLES.get(exc.status_code), "Forbidden", "Unauthorized"}
    detail: str | None = exc.detail if exc.detail not in generic else None
    if isinstance(exc, ValidationException) and detail:
        detail = _naming_the_fields(detail, exc.extra)
    if exc.status_code >= 500:
        logger.error("HTTP %s on %s: %s", exc.status_code, request.url.path, exc.detail)
        detail = None
    if detail and _is_internal(detail):
        detail = None
    response = error_response(request, exc.status_code, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _naming_the_fields(detail: str, extra: Any) -> str:
    """Litestar says "Validation failed for GET /path" and lists the fields in ``extra``, which the
    error body does not carry: name them in the detail ("…: page: Expected `int`, got `str`")."""
    if not isinstance(extra, list):
        return detail
    fields = [
        f"{item['key']}: {item.get('message', 'invalid')}"
        for item in extra
        if isinstance(item, dict) and item.get("key")
    ]
    return f"{detail}: {'; '.join(fields)}" if fields else detail


def _is_internal(detail: str) -> bool:
    """Framework messages about validation internals are kept; anything looking like code is not."""
    return "Traceback" in detail or 'File "' in detail


def handle_domain_not_found(request: Request[Any, Any, Any], exc: NotFoundError) -> Response[Any]:
    return error_response(request, 404, str(exc) or None)


def handle_domain_permission(request: Request[Any, Any, Any], exc: PermissionDeniedError) -> Response[Any]:
    return error_response(request, 403, str(exc) or None)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, HTTP_500_INTERNAL_SERVER_ERROR, None)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: handle_http_exception,
    NotFoundError: handle_domain_not_found,
    PermissionDeniedError: handle_domain_permission,
    Exception: handle_unexpected,
}
