"""The bare Litestar handler bench/http_load.py measures beside the product, served the same way (uvicorn
with the same worker processes): what one request costs with no session, database or template."""

from __future__ import annotations

from litestar import Litestar, get


@get("/ping", sync_to_thread=False)
def ping() -> dict[str, str]:
    return {"status": "ok"}


def create_app() -> Litestar:
    """``uvicorn --factory bench._http_bare:create_app`` serves it."""
    return Litestar(route_handlers=[ping])
