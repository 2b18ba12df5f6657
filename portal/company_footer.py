"""Puts the company details (``core.company``) on every portal page's request state, so the
shared layout's footer shows the broker's legal name, address and support contacts. Read per
page from the settings store, so a saved change shows on the next page."""

from __future__ import annotations

import logging

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.exc import SQLAlchemyError

from core.company import load_company
from core.web.state import app_services

logger = logging.getLogger(__name__)
STATE_COMPANY = "company"
SKIPPED_PREFIXES = ("/static", "/healthz", "/metrics", "/api", "/cashier", "/kyc/webhook")
"""Paths that render no page: files, probes, JSON and webhooks."""


def _no_page(scope: Scope) -> bool:
    return scope.get("method") != "GET" or str(scope.get("path", "")).startswith(SKIPPED_PREFIXES)


class CompanyFooterMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(_no_page)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        try:
            services = app_services(Litestar.from_scope(scope))
            async with services.database.session() as session:
                company = await load_company(session)
            scope.setdefault("state", {})[STATE_COMPANY] = company
        except SQLAlchemyError:
            logger.warning("company details not loaded for the footer", exc_info=True)
        await next_app(scope, receive, send)
