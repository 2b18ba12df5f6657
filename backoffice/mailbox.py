"""The dev mailbox: mail kept instead of sent while no SMTP server is configured.

It exists only outside production and only without SMTP, because a mailbox of reset links in
staff hands would let staff take over client accounts.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import select

from backoffice.guards import permission
from core.mail.models import OutboxMail
from core.web.state import app_services

LINK = re.compile(r"https?://[^\s<>\"]+")


def _available(request: Request[Any, Any, Any]) -> None:
    settings = app_services(request.app).settings
    if settings.is_production or settings.smtp_host:
        raise NotFoundException()


class MailboxController(Controller):
    path = "/dev/mailbox"
    include_in_schema = False
    opt = permission("mail.dev_mailbox")

    @get("/", name="backoffice.mailbox")
    async def inbox(self, request: Request[Any, Any, Any]) -> Template:
        _available(request)
        async with app_services(request.app).database.session() as session:
            mails = (
                await session.scalars(select(OutboxMail).order_by(OutboxMail.id.desc()).limit(200))
            ).all()
        return Template("mailbox/list.html", context={"mails": mails})

    @get("/{mail_id:int}", name="backoffice.mailbox.mail")
    async def mail(self, request: Request[Any, Any, Any], mail_id: FromPath[int]) -> Template:
        _available(request)
        async with app_services(request.app).database.session() as session:
            mail = await session.get(OutboxMail, mail_id)
        if mail is None:
            raise NotFoundException()
        return Template("mailbox/mail.html", context={"mail": mail, "links": LINK.findall(mail.text_body)})
