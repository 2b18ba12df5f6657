"""The settings index (permission ``settings.view``): links to every screen the staff member may open."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from backoffice.guards import permission, staff_permissions
from backoffice.settings_common import SCREENS


class SettingsIndexController(Controller):
    path = "/settings"
    include_in_schema = False

    @get("/", name="backoffice.settings", opt=permission("settings.view"))
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        held = await staff_permissions(request)
        screens = [(screen, screen.permission in held) for screen in SCREENS]
        return Template("settings/index.html", context={"screens": screens})
