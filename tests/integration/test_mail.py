"""Mail: outbox rows are sent after commit, over real SMTP on loopback, or kept for the dev mailbox."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import sys
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from core.db import Database
from core.jobs import Job
from core.mail.delivery import deliver_mail
from core.mail.models import CAPTURED, FAILED, SENT, OutboxMail
from core.mail.outbox import queue_mail
from core.settings import Settings

pytestmark = pytest.mark.asyncio


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def queue(db: Database, language: str = "en") -> int:
    async with db.transaction() as session:
        mail = await queue_mail(
            session,
            "reader@example.test",
            "reset_password",
            language,
            {"link": "http://portal.test/reset-password/abc", "minutes": 60},
        )
        return mail.id


async def _queue_then_fail(db: Database, sent_jobs: list[Job]) -> None:
    async with db.transaction() as session:
        await queue_mail(session, "x@example.test", "verify_email", "en", {"link": "http://x/", "hours": 1})
        assert sent_jobs == []
        raise RuntimeError("roll back")


async def test_job_leaves_only_after_commit(db: Database, sent_jobs: list[Job]) -> None:
    with pytest.raises(RuntimeError, match="roll back"):
        await _queue_then_fail(db, sent_jobs)
    assert sent_jobs == []
    mail_id = await queue(db)
    assert sent_jobs == [Job("core.send_mail", (mail_id,))]


async def test_real_smtp_delivery(db: Database, settings: Settings, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    smtp_settings = replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        mail_from="BrokerDesk <no-reply@broker.test>",
    )
    mail_id = await queue(db, language="zh_Hans")
    assert await deliver_mail(db, smtp_settings, mail_id) == SENT
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert inbox.envelopes[0] == ("no-reply@broker.test", ["reader@example.test"])
    assert message["Subject"] == "重置您的密码"
    assert message.get_content_type() == "multipart/alternative"
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None
    assert html_part is not None
    assert "http://portal.test/reset-password/abc" in text_part.get_content()
    assert 'href="http://portal.test/reset-password/abc"' in html_part.get_content()
    # a redelivered job sends nothing twice
    assert await deliver_mail(db, smtp_settings, mail_id) == SENT
    assert len(inbox.messages) == 1
    async with db.session() as session:
        row = await session.get_one(OutboxMail, mail_id)
    assert row.status == SENT
    assert row.sent_at is not None
    assert row.attempts == 1


async def test_unreachable_smtp_is_recorded_and_raised_for_retry(db: Database, settings: Settings) -> None:
    down = replace(
        settings, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_starttls=False, smtp_timeout_seconds=2
    )
    mail_id = await queue(db)
    with pytest.raises(ConnectionRefusedError):
        await deliver_mail(db, down, mail_id)
    async with db.session() as session:
        row = await session.get_one(OutboxMail, mail_id)
    assert row.status == FAILED
    assert row.attempts == 1
    assert "Error" in row.last_error


async def test_without_smtp_mail_is_captured_for_the_dev_mailbox(db: Database, settings: Settings) -> None:
    mail_id = await queue(db)
    assert await deliver_mail(db, settings, mail_id) == CAPTURED
    async with db.session() as session:
        statuses = list(await session.scalars(select(OutboxMail.status)))
    assert statuses == [CAPTURED]


async def test_worker_actor_delivers_through_the_broker(db: Database, settings: Settings) -> None:
    """The real ``core.send_mail`` actor on an in-process broker and worker."""
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from workers import runtime
    from workers.broker import create_broker

    broker = create_broker(settings)
    assert isinstance(broker, StubBroker)
    worker_db = Database.from_url(settings.database_url)  # the worker's own loop and connections
    runtime.install(runtime.WorkerRuntime(settings=settings, database=worker_db))
    sys.modules.pop("workers.actors", None)
    import workers.actors  # declares the actors on the broker just made

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        mail_id = await queue(db)
        workers.actors.send_mail.send(mail_id)
        await asyncio.to_thread(broker.join, "default", timeout=10_000)
        await asyncio.to_thread(worker.join)
    finally:
        worker.stop()
        await worker_db.dispose()
    async with db.session() as session:
        assert (await session.get_one(OutboxMail, mail_id)).status == CAPTURED
