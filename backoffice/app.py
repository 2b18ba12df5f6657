"""The back office's wiring point: its routes, templates and navigation, on the shared app factory."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar

from backoffice import api, pages
from core.db import Database
from core.settings import Settings, load_settings
from core.web.app_factory import AppSpec, NavItem, build_app

HERE = Path(__file__).parent

NAVIGATION = (NavItem("Dashboard", "/"),)


def backoffice_spec() -> AppSpec:
    return AppSpec(
        name="backoffice",
        title="Back office",
        route_handlers=[pages.DashboardController, api.router],
        template_dir=HERE / "templates",
        nav=NAVIGATION,
        session_cookie="bd_staff_session",
        csrf_cookie="bd_staff_csrf",
        locale_dirs=[HERE / "locales"],
        api_description="BrokerDesk back-office API for staff integrations.",
    )


def create_app(settings: Settings | None = None, database: Database | None = None) -> Litestar:
    """The back-office app; ``uvicorn --factory backoffice.app:create_app`` serves it."""
    return build_app(backoffice_spec(), settings or load_settings(), database=database)
