"""The errors of the JSON API, declared in the OpenAPI schema.

Every error answer of an ``/api/`` route is the body :mod:`core.web.errors` renders,
``{"status_code": …, "detail": …}``; :func:`document_api_errors` declares the ones every route can
give, and a route adds its own with ``responses=api_errors(…)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec

from core.web.path_ids import APP_GUARDS


@dataclass(frozen=True)
class ApiError:
    """Every error of the JSON API: the HTTP status again and, in words, what is wrong."""

    status_code: int
    detail: str


ERROR_DESCRIPTIONS = {
    400: "Refused: the input is malformed or a rule says no; ``detail`` names the field or the rule.",
    401: "Not signed in (or the session has ended).",
    403: "Not allowed: a permission is missing, or a write's ``X-CSRFToken`` header is missing or wrong.",
    404: "No such object, or not one of yours.",
    429: "Too many requests of this kind; wait a moment and try again.",
    502: "The payment provider could not be reached; nothing was charged, try again later.",
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def api_errors(*codes: int) -> dict[int, ResponseSpec]:
    """``responses=`` for a route that answers these errors beyond the ones every route declares
    (see :func:`document_api_errors`): ``@post(..., responses=api_errors(429))``."""
    return {
        code: ResponseSpec(
            data_container=ApiError, description=ERROR_DESCRIPTIONS[code], generate_examples=False
        )
        for code in codes
    }


def _guarded(handler: HTTPRouteHandler) -> bool:
    """Whether a guard of the route's own (sign-in, permission), not only the app-wide checks."""
    guards = [guard for layer in handler.ownership_layers for guard in (layer.guards or [])]
    return any(guard not in APP_GUARDS for guard in guards)


def document_api_errors(app: Litestar) -> None:
    """Declare in the OpenAPI schema the errors the shared machinery answers on every API route.

    Guarded routes answer 401 and 403; writes answer 403 (CSRF) and 400 (a refused write); routes
    with a path parameter answer 404. Each is the :class:`ApiError` body that
    :mod:`core.web.errors` renders. A route's own ``responses`` win. Run once per app, before the
    schema is first built; the handlers are shared between apps, so it only ever adds the same.
    """
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler) or not handler.resolve_include_in_schema():
                continue
            codes: set[int] = set()
            if _guarded(handler):  # a guard may also hide what is not yours: 404
                codes |= {401, 403, 404}
            if set(handler.http_methods) & WRITE_METHODS:
                codes |= {400, 403}
            if "{" in route.path:
                codes.add(404)
            handler.responses = {**api_errors(*sorted(codes)), **(handler.responses or {})}
