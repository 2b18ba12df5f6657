"""Delivering one outbox mail: read it, talk SMTP outside any transaction, then record the result.

Idempotent: a mail already sent or captured is left alone, so a redelivered job sends nothing
twice. A failure is recorded and re-raised, so the actor's retries (with backoff) try again.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

import anyio.to_thread
from sqlalchemy import select, update

from core import clock
from core.db import Database
from core.mail.models import CAPTURED, FAILED, SENT, OutboxMail
from core.settings import Settings

logger = logging.getLogger(__name__)
ERROR_LIMIT = 500
BODY_REMOVED = "(Removed once sent: this mail held a one-time password.)"


def build_message(mail: OutboxMail, sender: str) -> EmailMessage:
    """A multipart/alternative message: the text body first, the HTML body preferred."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(idstring=f"outbox-{mail.id}", domain="brokerdesk")
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    return message


def send_over_smtp(settings: Settings, message: EmailMessage) -> None:
    """One SMTP conversation (blocking; run it on a thread)."""
    timeout = settings.smtp_timeout_seconds
    client: smtplib.SMTP
    if settings.smtp_ssl:
        client = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with client:
        if settings.smtp_starttls and not settings.smtp_ssl:
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password)
        client.send_message(message)


async def deliver_mail(database: Database, settings: Settings, mail_id: int) -> str:
    """Send or capture mail ``mail_id``; returns its final status."""
    async with database.transaction() as session:
        mail = await session.scalar(select(OutboxMail).where(OutboxMail.id == mail_id))
        if mail is None:
            logger.warning("mail %s not in the outbox; nothing to send", mail_id)
            return "missing"
        if mail.status in (SENT, CAPTURED):
            return mail.status
        session.expunge(mail)

    if not settings.smtp_host:
        status = CAPTURED
    else:
        try:
            await anyio.to_thread.run_sync(send_over_smtp, settings, build_message(mail, settings.mail_from))
        except (OSError, smtplib.SMTPException) as exc:
            await _record(
                database, mail_id, status=FAILED, last_error=f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT]
            )
            logger.warning("mail %s not sent (%s); will retry", mail_id, type(exc).__name__)
            raise
        status = SENT

    blanked = (
        {"text_body": BODY_REMOVED, "html_body": BODY_REMOVED} if mail.holds_secret and status == SENT else {}
    )
    await _record(database, mail_id, status=status, sent_at=clock.utcnow(), last_error="", **blanked)
    return status


async def _record(database: Database, mail_id: int, **values: object) -> None:
    """Write the outcome with one UPDATE and no read before it: on SQLite a transaction that reads
    first can't take the write lock while another worker writes (it fails instead of waiting)."""
    async with database.transaction() as session:
        await session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id)
            .values(attempts=OutboxMail.attempts + 1, **values)
            .execution_options(synchronize_session=False)
        )
