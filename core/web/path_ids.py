"""Ids in a path that no database column can hold name nothing: 404 before any query is made.

A path parameter typed ``int`` parses any size of number, and a number past the 64-bit range
makes the database driver fail (SQLite: ``OverflowError``; PostgreSQL: out of int64 range), a 500.
This guard sits on the whole app, so every route, including one added later, answers 404 instead.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler

from core.ids import BIGINT_MAX, BIGINT_MIN


def requires_ids_in_range(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    for value in connection.path_params.values():
        if isinstance(value, int) and not BIGINT_MIN <= value <= BIGINT_MAX:
            raise NotFoundException()
