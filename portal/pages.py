"""Portal pages."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template


class HomeController(Controller):
    """The start page a visitor or client lands on."""

    include_in_schema = False

    @get("/", name="portal.home")
    async def home(self) -> Template:
        return Template("home.html")
