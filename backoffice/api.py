"""The back office's JSON API under ``/api/v1``."""

from __future__ import annotations

from litestar import Router

from backoffice.analytics_api import get_client_figures
from backoffice.guards import permission
from core.api import info_route

router = Router(
    path="/api/v1",
    route_handlers=[info_route("backoffice"), get_client_figures],
    tags=["backoffice"],
    opt=permission("dashboard.view"),
)
