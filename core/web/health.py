"""``/healthz``: the database always, Redis when it is configured."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, get
from litestar.response import Response

from core.web.state import app_services

logger = logging.getLogger(__name__)


@get("/healthz", name="healthz", exclude_from_csrf=True, include_in_schema=False)
async def healthz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """200 with each check's result when all pass, 503 naming the failing check otherwise."""
    services = app_services(request.app)
    checks: dict[str, str] = {}
    try:
        await services.database.ping()
        checks["database"] = "ok"
    except Exception as exc:  # a health check reports every failure instead of raising
        logger.warning("health check: database failed: %s", type(exc).__name__)
        checks["database"] = f"error: {type(exc).__name__}"
    if services.redis is not None:
        try:
            await services.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:  # see above
            logger.warning("health check: redis failed: %s", type(exc).__name__)
            checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return Response(
        {"status": "ok" if healthy else "unavailable", "app": services.name, "checks": checks},
        status_code=200 if healthy else 503,
    )
