"""Queueing mail: render, store in the outbox, and send after the transaction commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.jobs import enqueue_after_commit
from core.mail.models import QUEUED, OutboxMail
from core.mail.templates import render_mail

SEND_MAIL_ACTOR = "core.send_mail"


async def queue_mail(
    session: AsyncSession,
    to: str,
    template: str,
    language: str,
    context: dict[str, Any],
    *,
    holds_secret: bool = False,
) -> OutboxMail:
    """Add a rendered mail to the outbox; the ``core.send_mail`` job leaves only on commit.
    ``holds_secret``: blank the stored bodies once the mail is sent (see :class:`OutboxMail`)."""
    rendered = render_mail(template, language, context)
    mail = OutboxMail(
        to_address=to,
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
        template=template,
        language=language,
        status=QUEUED,
        created_at=clock.utcnow(),
        holds_secret=holds_secret,
    )
    session.add(mail)
    await session.flush()
    enqueue_after_commit(session, SEND_MAIL_ACTOR, mail.id)
    return mail
