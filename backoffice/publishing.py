"""Publishing and taking back to draft, for what staff write as a draft and then show to clients
(help articles, announcements).

Both screens do the same thing around their own domain function: run it in one transaction as
the signed-in staff member (the domain function writes the audit event), turn its "not found"
into a 404, flash the screen's own message and go back to the item's page. A screen declares
only what differs, as a :class:`Publishing`; its route handlers stay in its controller, so each
path, route name and permission is still read where the screen is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from litestar import Request
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.service import Actor
from core.web.auth import actor_for, signed_in
from core.web.state import app_services

StatusT = TypeVar("StatusT")


@dataclass(frozen=True)
class Publishing(Generic[StatusT]):
    """What one screen publishes with.

    ``set_status(session, row_id, status, actor)`` is the domain function; it raises ``not_found``
    for an id it does not know. The messages are English msgids, translated where flashes are
    shown, so they must stay literal strings in the screen's catalog. ``page`` is the item's page
    with ``{}`` for its id.
    """

    set_status: Callable[[AsyncSession, int, StatusT, Actor], Awaitable[object]]
    not_found: type[Exception]
    published: StatusT
    draft: StatusT
    published_message: str
    draft_message: str
    page: str

    async def publish(self, request: Request[Any, Any, Any], row_id: int) -> Redirect:
        return await self._set(request, row_id, self.published, self.published_message)

    async def unpublish(self, request: Request[Any, Any, Any], row_id: int) -> Redirect:
        return await self._set(request, row_id, self.draft, self.draft_message)

    async def _set(
        self, request: Request[Any, Any, Any], row_id: int, status: StatusT, message: str
    ) -> Redirect:
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await self.set_status(session, row_id, status, actor_for(request, me.user))
        except self.not_found:
            raise NotFoundException() from None
        flash(request, message, category="success")
        return Redirect(self.page.format(row_id), status_code=303)
