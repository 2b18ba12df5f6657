"""What the security sweeps share: routes read from an app's own route table, concrete URLs for
them, and a snapshot of the whole database to prove that a refused request changed nothing.

Reading the route table (never a hand-kept list) is what makes a route added later covered by
every sweep without editing the sweeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from sqlalchemy import select

from core.db import Base, Database

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IGNORED_METHODS = {
    "OPTIONS": "Litestar's automatic preflight answer: an Allow header, no data",
    "HEAD": "static files only, answered like their GET",
}
VOLATILE_COLUMNS = {"login_sessions": {"last_seen_at"}}
"""Columns that every signed-in request touches (the session's last activity)."""
PARAM = re.compile(r"\{([^}:]+):([^}]+)\}")


@dataclass(frozen=True)
class Route:
    """One method of one path in an app's route table."""

    path: str
    method: str
    handler: HTTPRouteHandler

    @property
    def opt(self) -> dict[str, Any]:
        return dict(self.handler.opt)

    @property
    def params(self) -> dict[str, str]:
        """Path parameter name -> type (``int``, ``str``, ``path``)."""
        return dict(PARAM.findall(self.path))

    @property
    def guards(self) -> list[Any]:
        """The guard functions of the route and every layer above it (the app's included)."""
        return [guard for layer in self.handler.ownership_layers for guard in (layer.guards or [])]

    @property
    def excluded_from_csrf(self) -> bool:
        return bool(self.handler.opt.get("exclude_from_csrf"))

    def url(self, **values: Any) -> str:
        """The path with each parameter replaced: by ``values[name]``, else a plausible value."""

        def one(match: re.Match[str]) -> str:
            name, kind = match.groups()
            if name in values:
                return str(values[name])
            return "999999" if kind == "int" else "sample"

        return PARAM.sub(one, self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def routes_of(app: Litestar) -> list[Route]:
    """Every (path, method) the app serves, OPTIONS and HEAD aside."""
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods):
                if method not in IGNORED_METHODS:
                    found.append(Route(route.path, method, handler))
    return found


async def snapshot(db: Database, *, ignore: frozenset[str] = frozenset({"audit_events"})) -> dict[str, Any]:
    """Every row of every table (``ignore`` aside), to compare before and after refused requests.

    The audit log is left out: a refusal is rightly recorded there (permission denied, say); so is
    the time a session was last used.
    """
    rows: dict[str, Any] = {}
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in ignore:
                continue
            volatile = VOLATILE_COLUMNS.get(table.name, set())
            result = await session.execute(select(*(c for c in table.columns if c.name not in volatile)))
            rows[table.name] = sorted(repr(tuple(row)) for row in result)
    return rows


def changed_tables(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
