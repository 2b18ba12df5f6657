"""The apps under test, built once and lent to one test after another.

Building the back office costs about a second of CPU and the portal half of one, and most tests
need one or both: built afresh for every test, that was a quarter of the suite's time. A test
asks :func:`portal_app` or :func:`backoffice_app` instead of calling ``create_app``. It gets an
app that no other client of this test holds, built for settings equal to its own apart from
``database_url`` and ``storage_dir``, and bound to its own database with
:func:`core.web.app_factory.bind_services`: its own session store, rate limiter and held values.
Every app lent goes back on the shelf when the test ends (:func:`take_back`, autouse in the
conftest).

A test that changes the app itself (its routes, its middleware) must build its own with
``create_app``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable

from litestar import Litestar

from core.db import Database
from core.logging import configure_logging
from core.settings import Settings
from core.web.app_factory import bind_services
from core.web.state import app_services

Factory = Callable[[Settings, Database], Litestar]
ShelfKey = tuple[str, str]


def _build_key(name: str, settings: Settings) -> ShelfKey:
    """Apps built for settings that differ only where :func:`bind_services` reads are alike."""
    return name, repr(dataclasses.replace(settings, database_url="", storage_dir=""))


class AppShelf:
    """Built apps by build key: the ones free to lend, and the ones the running test holds."""

    def __init__(self) -> None:
        self._free: defaultdict[ShelfKey, list[Litestar]] = defaultdict(list)
        self._lent: list[tuple[ShelfKey, Litestar]] = []

    def lend(self, name: str, build: Factory, settings: Settings, database: Database) -> Litestar:
        key = _build_key(name, settings)
        free = self._free[key]
        if free:
            app = free.pop()
            configure_logging(settings)  # as a build would
            bind_services(app, app_services(app).name, settings, database=database)
        else:
            app = build(settings, database)
        self._lent.append((key, app))
        return app

    def take_back(self) -> None:
        for key, app in self._lent:
            self._free[key].append(app)
        self._lent.clear()


SHELF = AppShelf()


def _build_portal(settings: Settings, database: Database) -> Litestar:
    from portal.app import create_app

    return create_app(settings, database=database)


def _build_backoffice(settings: Settings, database: Database) -> Litestar:
    from backoffice.app import create_app

    return create_app(settings, database=database)


def portal_app(settings: Settings, database: Database) -> Litestar:
    """A portal app on ``database``, for this test alone."""
    return SHELF.lend("portal", _build_portal, settings, database)


def backoffice_app(settings: Settings, database: Database) -> Litestar:
    """A back-office app on ``database``, for this test alone."""
    return SHELF.lend("backoffice", _build_backoffice, settings, database)


def take_back() -> None:
    """The test is over: every app it was lent may serve the next one."""
    SHELF.take_back()
