"""The app the worker-process tests serve: it answers which process took the request."""

from __future__ import annotations

import os

from litestar import Litestar, get


@get("/pid", sync_to_thread=False)
def pid() -> dict[str, int]:
    return {"pid": os.getpid()}


def create_app() -> Litestar:
    return Litestar(route_handlers=[pid])
