"""A client's mailed reply threads back into the ticket, spoken as real SMTP to the inbound server
on loopback: quoted history is stripped, a redelivered mail (same Message-ID) threads once, and a
forged or unknown token, a sender who is not the ticket's owner or an empty reply is refused with
an SMTP error and changes nothing."""

from __future__ import annotations

import smtplib
from collections.abc import AsyncIterator
from email.message import EmailMessage

import anyio.to_thread
import pytest

from core.db import Database
from core.settings import Settings
from support.inbound_server import start_inbound_server
from support.models import MessageSource, TicketStatus
from tests.helpers import latest_mail, submit
from tests.integration.settings.conftest import ClientFactory, StaffFactory, audit_events, page_text
from tests.integration.support.conftest import messages, open_ticket, tickets

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def inbound_port(db: Database, settings: Settings) -> AsyncIterator[int]:
    server = await start_inbound_server(db, settings, host="127.0.0.1", port=0)
    port = int(server.sockets[0].getsockname()[1])
    yield port
    server.close()
    await server.wait_closed()


def mail(sender: str, to: str, body: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Re: your ticket"
    message["Message-ID"] = message_id
    message.set_content(body)
    return message


async def send(port: int, message: EmailMessage, to: str | None = None) -> dict[str, tuple[int, bytes]]:
    """One SMTP conversation on a thread (the server runs in this event loop); refused recipients
    are returned, a refused mail raises."""

    def conversation() -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            return client.send_message(message, to_addrs=[to or str(message["To"])])

    return await anyio.to_thread.run_sync(conversation)


async def staff_answer(staff: StaffFactory, ticket_id: int) -> None:
    agent = await staff.__call__("agent@staff.test", ["support"])
    answer = await submit(
        agent,
        f"/support/{ticket_id}",
        f"/support/{ticket_id}/reply",
        {"message": "Please send the wire reference."},
    )
    assert answer.status_code == 303


async def test_a_mailed_reply_threads_into_the_ticket_once(
    client_as: ClientFactory, staff_as: StaffFactory, db: Database, inbound_port: int
) -> None:
    alice, _ = await client_as("alice@example.test")
    ticket_id = await open_ticket(alice)
    await staff_answer(staff_as, ticket_id)
    outbound = await latest_mail(db, "alice@example.test")
    address = outbound.reply_to
    quoted = "\n".join(f"> {line}" for line in outbound.text_body.splitlines())
    wrote = "On Tue, 1 Dec 2026 at 14:00, Demo Broker <no-reply@broker.test> wrote:"
    body = f"The reference is BD-4471.\n\n{wrote}\n{quoted}\n"
    message = mail("Alice <ALICE@example.test>", address, body, "<reply-1@mail.example.test>")

    assert await send(inbound_port, message) == {}
    assert await send(inbound_port, message) == {}  # the same mail delivered again

    thread = await messages(db, ticket_id)
    assert [m.body for m in thread][-1] == "The reference is BD-4471."
    assert [m.source for m in thread].count(MessageSource.MAIL.value) == 1
    assert (await tickets(db))[0].status == TicketStatus.OPEN.value  # back to staff
    [event] = [
        e for e in await audit_events(db, "support.client_replied") if e.after and e.after["source"] == "mail"
    ]
    assert event.target_id == str(ticket_id)
    page = page_text((await alice.get(f"/support/{ticket_id}")).text)
    assert "The reference is BD-4471." in page
    assert "by mail" in page


async def test_forged_tokens_strangers_and_empty_replies_are_refused(
    client_as: ClientFactory, staff_as: StaffFactory, db: Database, inbound_port: int
) -> None:
    alice, _ = await client_as("alice@example.test")
    ticket_id = await open_ticket(alice)
    carol, _ = await client_as("carol@example.test")
    carol_ticket = await open_ticket(carol, subject="Carol's own")
    await staff_answer(staff_as, ticket_id)
    address = (await latest_mail(db, "alice@example.test")).reply_to
    token = address.split(".", 1)[1].split("@", 1)[0]
    before = len(await messages(db, ticket_id))

    forged = address.replace(token, "0" * 32)
    for to in (
        forged,  # a guessed token
        f"support+{carol_ticket}.{token}@broker.test",  # Alice's token on Carol's ticket
        address.replace("@broker.test", "@elsewhere.test"),  # another domain
        "postmaster@broker.test",
    ):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            await send(inbound_port, mail("alice@example.test", to, "Hello", f"<forged-{to}>"), to=to)
        assert refused.value.recipients[to][0] == 550

    with pytest.raises(smtplib.SMTPDataError) as stranger:
        await send(inbound_port, mail("mallory@example.test", address, "Refund me", "<m-1@example.test>"))
    assert stranger.value.smtp_code == 550
    assert b"not the owner" in stranger.value.smtp_error

    with pytest.raises(smtplib.SMTPDataError) as empty:
        await send(
            inbound_port, mail("alice@example.test", address, "> only quoted text\n", "<e-1@example.test>")
        )
    assert empty.value.smtp_code == 550
    assert b"empty" in empty.value.smtp_error

    assert len(await messages(db, ticket_id)) == before
    assert len(await messages(db, carol_ticket)) == 1


async def test_quoted_history_is_stripped_in_the_usual_shapes() -> None:
    from support.quoting import strip_quoted, text_of_html

    assert strip_quoted("Thanks!\n\n-- Reply above this line --\nOur answer") == "Thanks!"
    assert strip_quoted("Yes.\n-----Original Message-----\nFrom: us") == "Yes."
    assert strip_quoted("Done\nFrom: Support <s@b.test>\nSent: Monday\n\nold") == "Done"
    assert strip_quoted("好的\n\n在 2026年12月1日 14:00\uff0c客服 写道\uff1a\n> 旧邮件") == "好的"
    assert strip_quoted("Fine\nOn Tue, 1 Dec 2026, Support\n<s@b.test> wrote:\n> old") == "Fine"
    assert strip_quoted("Me\n-- \nAlice, sent from my phone") == "Me"
    assert text_of_html("<p>New text</p><blockquote><p>old text</p></blockquote>").strip() == "New text"


async def test_the_same_mail_delivered_twice_at_once_threads_once(
    client_as: ClientFactory, staff_as: StaffFactory, db: Database, inbound_port: int
) -> None:
    """Two mail servers hand over the same reply in parallel (real parallel connections on
    PostgreSQL): both are told 250, and the ticket gets one message."""
    alice, _ = await client_as("alice@example.test")
    ticket_id = await open_ticket(alice)
    await staff_answer(staff_as, ticket_id)
    address = (await latest_mail(db, "alice@example.test")).reply_to
    message = mail("alice@example.test", address, "Sent twice by my provider.", "<twice@mail.example.test>")
    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(send, inbound_port, message)
    bodies = [m.body for m in await messages(db, ticket_id)]
    assert bodies.count("Sent twice by my provider.") == 1
