"""The back office's JSON API under ``/api/v1``."""

from __future__ import annotations

from litestar import Router

from backoffice.guards import permission
from core.api import info_route

router = Router(
    path="/api/v1",
    route_handlers=[info_route("backoffice")],
    tags=["backoffice"],
    opt=permission("dashboard.view"),
)
