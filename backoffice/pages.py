"""Back-office pages."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from backoffice.guards import permission


class DashboardController(Controller):
    """What needs staff attention now; the queues fill in as their issues land."""

    include_in_schema = False

    @get("/", name="backoffice.dashboard", opt=permission("dashboard.view"))
    async def dashboard(self) -> Template:
        return Template("dashboard.html")
