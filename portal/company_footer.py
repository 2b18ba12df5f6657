"""Puts the company details (``core.company``) on every portal page's request state, so the
shared layout's footer shows the broker's legal name, address and support contacts.

The details change a few times a year, yet every page needs them: each portal process keeps what
it read for :data:`COMPANY_TTL_SECONDS` instead of asking the database on every page (that was one
pooled connection, with its ping, per page). The back office saves the details in another process,
which can't reach this cache, so the TTL is the whole story: a saved change shows on every portal
page within five seconds. A failed read keeps nothing, so the next page asks again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.exc import SQLAlchemyError

from core.company import CompanyDetails, load_company
from core.db import Database
from core.web.state import app_services

logger = logging.getLogger(__name__)
STATE_COMPANY = "company"
SKIPPED_PREFIXES = ("/static", "/healthz", "/metrics", "/api", "/cashier", "/kyc/webhook")
"""Paths that render no page: files, probes, JSON and webhooks."""
COMPANY_TTL_SECONDS = 5.0


def _no_page(scope: Scope) -> bool:
    return scope.get("method") != "GET" or str(scope.get("path", "")).startswith(SKIPPED_PREFIXES)


class CompanyCache:
    """The company details one process read last, and until when they count as current."""

    def __init__(self, ttl_seconds: float = COMPANY_TTL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._held: tuple[float, CompanyDetails] | None = None

    async def get(self, database: Database) -> CompanyDetails:
        now = self.clock()
        if self._held is not None and now < self._held[0]:
            return self._held[1]
        async with database.autocommit_session() as session:
            company = await load_company(session)
        self._held = (now + self.ttl_seconds, company)
        return company

    def forget(self) -> None:
        """Read the details afresh on the next page."""
        self._held = None


class CompanyFooterMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(_no_page)

    def __init__(self, cache: CompanyCache | None = None) -> None:
        self.cache = cache or CompanyCache()

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        try:
            services = app_services(Litestar.from_scope(scope))
            scope.setdefault("state", {})[STATE_COMPANY] = await self.cache.get(services.database)
        except SQLAlchemyError:
            logger.warning("company details not loaded for the footer", exc_info=True)
        await next_app(scope, receive, send)
