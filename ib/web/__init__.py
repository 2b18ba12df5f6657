"""The IB portal's pages and JSON API, composed by the client portal (DESIGN.md §2: only ``portal``
imports this package). It may use Litestar and templates; the rest of :mod:`ib` may not."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from litestar.types import ControllerRouterHandler

from ib.web import actions, api, pages

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LOCALES = HERE / "locales"

ROUTE_HANDLERS: Sequence[ControllerRouterHandler] = [
    pages.IbHomeController,
    pages.IbPagesController,
    actions.IbApplicationController,
    actions.IbActionsController,
    actions.ReferralController,
    api.router,
]
"""Everything the portal mounts for IBs."""
