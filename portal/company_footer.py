"""Puts the company details (``core.company``) on every portal page's request state, so the
shared layout's footer shows the broker's legal name, address and support contacts.

The details change a few times a year, yet every page needs them: each portal process keeps what
it read for :data:`COMPANY_TTL_SECONDS` (:class:`core.held.Held`) instead of asking the database
on every page (that was one pooled connection, with its ping, per page). The back office saves the
details in another process, which can't reach this one, so the time is the whole story: a saved
change shows on every portal page within five seconds.
"""

from __future__ import annotations

import logging

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.exc import SQLAlchemyError

from core.company import CompanyDetails, load_company
from core.db import Database
from core.held import Held
from core.web.state import app_services

logger = logging.getLogger(__name__)
STATE_COMPANY = "company"
SKIPPED_PREFIXES = ("/static", "/healthz", "/metrics", "/api", "/cashier", "/kyc/webhook")
"""Paths that render no page: files, probes, JSON and webhooks."""
COMPANY_TTL_SECONDS = 5.0


def _no_page(scope: Scope) -> bool:
    return scope.get("method") != "GET" or str(scope.get("path", "")).startswith(SKIPPED_PREFIXES)


async def _read_company(database: Database) -> CompanyDetails:
    async with database.read_session() as session:
        return await load_company(session)


def company_held(app: Litestar) -> Held[CompanyDetails]:
    """The company details this app process keeps (see the module's docstring)."""
    return app_services(app).held(STATE_COMPANY, COMPANY_TTL_SECONDS)


class CompanyFooterMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(_no_page)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        try:
            app = Litestar.from_scope(scope)
            database = app_services(app).database
            company = await company_held(app).get(lambda: _read_company(database))
            scope.setdefault("state", {})[STATE_COMPANY] = company
        except SQLAlchemyError:
            logger.warning("company details not loaded for the footer", exc_info=True)
        await next_app(scope, receive, send)
