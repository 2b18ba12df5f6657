"""Announcements in the portal: the list for the signed-in client, and "mark read".

What a client sees (audience, window, language) and the read marks come from :mod:`comms`.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from comms import announcements
from comms.errors import AnnouncementNotFoundError
from comms.models import Announcement
from core import clock
from core.db import Database
from core.held import Held
from core.i18n import current_language
from core.web.auth import SIGN_IN_HANDLERS, SignInRequiredError, load_signed_in, requires_sign_in, signed_in
from core.web.forms import form_fields
from core.web.state import app_services

BANNER_TTL_SECONDS = 5.0
BANNER_KEY = "portal.announcement_banner"


def banner_rows(app: Any) -> Held[list[Announcement]]:
    """The published announcements this app process keeps for the home page banner.

    Every home page visit shows the banner, and nearly always there is nothing new in it: the
    process keeps :func:`comms.announcements.published_rows` for :data:`BANNER_TTL_SECONDS`, so
    a visit with nothing current to show opens no database connection at all. Publishing,
    unpublishing or editing one (in the back office, another process) reaches the banner within
    those five seconds; start and end times hold to the second, since each visit checks them.
    The announcements page itself always reads afresh.
    """
    return app_services(app).held(BANNER_KEY, BANNER_TTL_SECONDS)


async def _published(database: Database) -> list[Announcement]:
    async with database.read_session() as session:
        return await announcements.published_rows(session, clock.utcnow())


async def unread_for(request: Request[Any, Any, Any]) -> list[announcements.ClientAnnouncement]:
    """The signed-in client's unread announcements (none for a visitor): the home page banner."""
    try:
        me = await load_signed_in(request)
    except SignInRequiredError:
        return []
    if me.user.kind != "client":
        return []
    database = app_services(request.app).database
    published = await banner_rows(request.app).get(lambda: _published(database))
    now = clock.utcnow()
    if not any(announcements.in_window(row, now) for row in published):
        return []
    async with database.read_session() as session:
        shown = await announcements.for_client(session, me.user.id, current_language(), now, published)
    return [item for item in shown if item.read_at is None]


class AnnouncementsController(Controller):
    path = "/announcements"
    include_in_schema = False
    guards = [requires_sign_in]
    exception_handlers = SIGN_IN_HANDLERS

    @get("/", name="portal.announcements")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        me = signed_in(request)
        async with app_services(request.app).database.session() as session:
            shown = await announcements.for_client(session, me.user.id, current_language())
        return Template("announcements.html", context={"announcements": shown})

    @post("/{announcement_id:int}/read", name="portal.announcements.read")
    async def mark_read(self, request: Request[Any, Any, Any], announcement_id: FromPath[int]) -> Redirect:
        form = await form_fields(request)
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await announcements.mark_read(session, announcement_id, me.user.id)
        except AnnouncementNotFoundError:
            raise NotFoundException() from None
        back = form.get("next", "")
        return Redirect(
            back if back.startswith("/") and not back.startswith("//") else "/announcements", status_code=303
        )
