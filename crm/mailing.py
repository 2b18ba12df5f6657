"""How the CRM queues mail without importing the mail renderer: rendering uses a template engine,
which the domain packages may not import, so the apps and the worker pass the outbox's
``queue_mail`` (and identity's ``send_verification``) in, as they do for kyc."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.models import User
from core.mail.models import OutboxMail
from core.settings import Settings


class MailQueue(Protocol):
    """``core.mail.outbox.queue_mail``: renders a mail into the outbox, sent after the commit."""

    async def __call__(
        self,
        session: AsyncSession,
        to: str,
        template: str,
        language: str,
        context: dict[str, Any],
        *,
        holds_secret: bool = False,
    ) -> OutboxMail: ...


SendVerification = Callable[[AsyncSession, Settings, User], Awaitable[None]]
"""``core.identity.accounts.send_verification``: mails a fresh email-verification link."""


@dataclass(frozen=True, slots=True)
class Mailer:
    queue_mail: MailQueue
    send_verification: SendVerification
