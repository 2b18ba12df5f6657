"""Back-office pages."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template


class DashboardController(Controller):
    """What needs staff attention now; the queues fill in as their issues land."""

    include_in_schema = False

    @get("/", name="backoffice.dashboard")
    async def dashboard(self) -> Template:
        return Template("dashboard.html")
