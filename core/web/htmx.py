"""Telling an htmx request from a plain one: one address answers a fragment to htmx and a whole
page to a browser without JavaScript."""

from __future__ import annotations

from typing import Any

from litestar import Request

VARY = {"Vary": "HX-Request"}
"""Caches must keep an address's two answers apart."""


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request", "").lower() == "true"
