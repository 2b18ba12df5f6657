"""The public ends of campaign mails: the open pixel, click redirects and one-click unsubscribe.

Each URL carries a signed per-recipient token (:mod:`comms.campaign_links`); a token that does not
verify answers 404 and records nothing. Unsubscribing follows RFC 8058: a GET shows a confirmation
page (link scanners follow GETs), and a POST unsubscribes, whether the page's button sent it or
a mail client's one-click ``List-Unsubscribe-Post``, which carries no CSRF token; the signature
stands in for it.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from comms import tracking, unsubscribe
from comms.errors import BadTrackingTokenError
from core.identity.models import User
from core.web.auth import actor_for
from core.web.state import app_services

NO_STORE = {"Cache-Control": "no-store, private"}


class CampaignLinksController(Controller):
    include_in_schema = False

    @get("/mail/open/{token:str}", name="portal.mail.open", cache=False)
    async def open_pixel(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[bytes]:
        services = app_services(request.app)
        try:
            async with services.database.transaction() as session:
                await tracking.record_open(session, services.settings.effective_secret_key, token)
        except BadTrackingTokenError:
            raise NotFoundException() from None
        return Response(tracking.PIXEL_GIF, media_type="image/gif", headers=NO_STORE)

    @get("/mail/click/{token:str}", name="portal.mail.click", cache=False)
    async def click(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Redirect:
        services = app_services(request.app)
        try:
            async with services.database.transaction() as session:
                target = await tracking.record_click(session, services.settings.effective_secret_key, token)
        except BadTrackingTokenError:
            raise NotFoundException() from None
        return Redirect(target, status_code=302, headers=NO_STORE)

    async def _page(self, request: Request[Any, Any, Any], token: str, *, confirm: bool) -> Template:
        services = app_services(request.app)
        try:
            async with services.database.transaction() as session:
                recipient = await unsubscribe.recipient_of(
                    session, services.settings.effective_secret_key, token
                )
                client = await session.get_one(User, recipient.client_id)
                if confirm:
                    await unsubscribe.set_marketing(
                        session,
                        client.id,
                        False,
                        actor_for(request, client),
                        campaign_id=recipient.campaign_id,
                    )
                subscribed = await unsubscribe.wants_marketing(session, client.id)
        except BadTrackingTokenError:
            raise NotFoundException() from None
        return Template(
            "campaigns/unsubscribe.html",
            context={"token": token, "email": client.email, "subscribed": subscribed, "done": confirm},
        )

    @get("/unsubscribe/{token:str}", name="portal.unsubscribe")
    async def confirm_page(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        return await self._page(request, token, confirm=False)

    @post(
        "/unsubscribe/{token:str}",
        name="portal.unsubscribe.submit",
        opt={"exclude_from_csrf": True},
        status_code=200,
    )
    async def unsubscribe(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        return await self._page(request, token, confirm=True)
