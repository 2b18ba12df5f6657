"""Guards on the whole app against parameters no database can take, so that every route, one
added later included, answers 404 or 400 instead of a database error (a 500).

- An ``int`` path parameter parses any size of number; past the 64-bit range the driver fails
  (SQLite: ``OverflowError``; PostgreSQL: out of int64 range). Such an id names nothing: 404.
- PostgreSQL refuses text holding a NUL character (``invalid byte sequence … 0x00``); no one types
  one. A path or query parameter holding one is a 400 that names it.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import ClientException, NotFoundException
from litestar.handlers.base import BaseRouteHandler

from core.ids import BIGINT_MAX, BIGINT_MIN


async def requires_ids_in_range(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    for value in connection.path_params.values():
        if isinstance(value, int) and not BIGINT_MIN <= value <= BIGINT_MAX:
            raise NotFoundException()


async def requires_no_nul(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    for name, value in connection.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise ClientException(f"{name}: text may not hold a NUL character")
    for name, text in connection.query_params.items():
        if "\x00" in text or "\x00" in name:
            raise ClientException(f"{name.replace(chr(0), '')}: text may not hold a NUL character")


APP_GUARDS = (requires_ids_in_range, requires_no_nul)
"""Guards of the whole app, before each route's own (sign-in, permission). They are coroutines
though they never wait: Litestar runs a plain-function guard on a worker thread, and two thread
hops on every request cost more than the checks themselves."""
