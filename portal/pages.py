"""Portal pages."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from portal.announcements import unread_for


class HomeController(Controller):
    """The start page a visitor or client lands on; a signed-in client sees their unread
    announcements at the top."""

    include_in_schema = False

    @get("/", name="portal.home")
    async def home(self, request: Request[Any, Any, Any]) -> Template:
        return Template("home.html", context={"unread": await unread_for(request)})
