"""The portal's JSON API under ``/api/v1``."""

from __future__ import annotations

from litestar import Router

from core.api import info_route

router = Router(path="/api/v1", route_handlers=[info_route("portal")], tags=["portal"])
