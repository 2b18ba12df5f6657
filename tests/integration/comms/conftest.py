"""Campaign fixtures: signed-in staff and clients, and a real SMTP server on loopback that refuses
some recipients for good (550) and others once for now (451)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from core.settings import Settings
from tests.integration.settings.conftest import client_as, staff_as
from tests.integration.test_mail import free_port

__all__ = ["client_as", "staff_as"]


@dataclass
class Mailbox:
    """An aiosmtpd handler: ``refuse`` answers 550 at RCPT, ``busy_once`` 451 the first time."""

    refuse: set[str] = field(default_factory=set)
    busy_once: set[str] = field(default_factory=set)
    messages: list[EmailMessage] = field(default_factory=list)
    answered_busy: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            return "550 5.1.1 <" + address + ">: mailbox unavailable"
        if address in self.busy_once and address not in self.answered_busy:
            self.answered_busy.add(address)
            return "451 4.7.1 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(settings: Settings, mailbox: tuple[Mailbox, int]) -> Settings:
    return replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mailbox[1],
        smtp_starttls=False,
        smtp_timeout_seconds=5,
        mail_from="Broker <news@broker.test>",
        portal_url="http://portal.test",
    )
