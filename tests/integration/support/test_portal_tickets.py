"""Support tickets in the portal over HTTP: open one with an attachment, follow the conversation,
reply, close and reopen; bad input is refused with a clear message and nothing stored; another
client's ticket or attachment is 404."""

from __future__ import annotations

import pytest

from core.db import Database
from core.settings import Settings
from core.web.auth import MONEY_ACTIONS_PER_MINUTE
from support.models import MessageKind, TicketStatus
from tests.helpers import submit
from tests.integration.settings.conftest import ClientFactory, audit_events, page_text
from tests.integration.support.conftest import (
    MAX_UPLOAD,
    PDF,
    attachments,
    messages,
    open_ticket,
    stored_files,
    tickets,
)

pytestmark = pytest.mark.asyncio
ZH = {"Accept-Language": "zh-CN"}


async def test_a_client_opens_a_ticket_with_an_attachment_and_follows_it(
    client_as: ClientFactory, db: Database, settings: Settings
) -> None:
    alice, alice_id = await client_as("alice@example.test")
    form = await alice.get("/support/new")
    assert form.status_code == 200
    assert 'hx-get="/help/suggest"' in form.text
    assert 'hx-trigger="keyup changed delay:400ms"' in form.text
    ticket_id = await open_ticket(alice, files={"attachment": ("statement.pdf", PDF, "application/pdf")})

    [ticket] = await tickets(db)
    assert (ticket.id, ticket.client_id, ticket.status) == (ticket_id, alice_id, TicketStatus.NEW.value)
    assert (ticket.category, ticket.priority) == ("funding", "high")
    assert ticket.first_response_due_at < ticket.resolution_due_at
    [attachment] = await attachments(db)
    assert (attachment.content_type, attachment.size_bytes) == ("application/pdf", len(PDF))
    assert PDF not in stored_files(settings)[0].read_bytes()  # encrypted at rest
    assert [e.target_id for e in await audit_events(db, "support.ticket_opened")] == [str(ticket_id)]

    page = await alice.get(f"/support/{ticket_id}")
    assert page.status_code == 200
    text = page_text(page.text)
    assert "My deposit has not arrived" in text
    assert "I sent 500 USD by wire on Monday." in text
    download = await alice.get(f"/support/{ticket_id}/attachments/{attachment.id}")
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment")

    listing = await alice.get("/support")
    assert f'data-ticket="{ticket_id}"' in listing.text

    reply = await submit(
        alice, f"/support/{ticket_id}", f"/support/{ticket_id}/reply", {"message": "Any news?"}
    )
    assert reply.status_code == 303
    assert [m.body for m in await messages(db, ticket_id)][-1] == "Any news?"

    closed = await submit(alice, f"/support/{ticket_id}", f"/support/{ticket_id}/close", {})
    assert closed.status_code == 303
    assert (await tickets(db))[0].status == TicketStatus.CLOSED.value
    refused = await submit(
        alice, f"/support/{ticket_id}", f"/support/{ticket_id}/reply", {"message": "Hello?"}
    )
    assert refused.status_code == 409
    assert "Reopen it to write again" in page_text(refused.text)
    reopened = await submit(alice, f"/support/{ticket_id}", f"/support/{ticket_id}/reopen", {})
    assert reopened.status_code == 303
    assert (await tickets(db))[0].status == TicketStatus.OPEN.value
    assert len(await audit_events(db, "support.ticket_closed")) == 1
    assert len(await audit_events(db, "support.ticket_reopened")) == 1

    chinese = await alice.get("/support/new", headers=ZH)
    assert "提交工单" in chinese.text or "新建工单" in chinese.text


async def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_stored(
    client_as: ClientFactory, db: Database, settings: Settings
) -> None:
    alice, _ = await client_as("alice@example.test")
    base = {"category": "funding", "priority": "normal", "subject": "Help", "message": "Please help."}
    cases = [
        (
            base,
            {"attachment": ("big.pdf", b"%PDF-1.4\n" + b"x" * MAX_UPLOAD, "application/pdf")},
            "larger than",
        ),
        (
            base,
            {"attachment": ("notes.pdf", b"just some text pretending", "application/pdf")},
            "JPEG, PNG and PDF",
        ),
        ({**base, "message": "   "}, None, "Write a message."),
        ({**base, "subject": ""}, None, "Enter a subject."),
        ({**base, "category": "lottery"}, None, "Choose a category."),
        ({**base, "priority": "asap"}, None, "Choose a priority."),
    ]
    for data, files, expected in cases:
        answer = await submit(alice, "/support/new", "/support/new", data, files=files)
        assert answer.status_code == 400, (data, answer.status_code)
        assert expected in page_text(answer.text), expected
    assert await tickets(db) == []
    assert await attachments(db) == []
    assert stored_files(settings) == []

    ticket_id = await open_ticket(alice)
    big = {"attachment": ("big.png", b"\x89PNG\r\n\x1a\n" + b"x" * MAX_UPLOAD, "image/png")}
    answer = await submit(
        alice, f"/support/{ticket_id}", f"/support/{ticket_id}/reply", {"message": "Photo"}, files=big
    )
    assert answer.status_code == 400
    assert "larger than 0.0625 MB" in page_text(answer.text)
    assert len(await messages(db, ticket_id)) == 1
    assert stored_files(settings) == []


async def test_another_clients_ticket_and_attachment_are_not_found(
    client_as: ClientFactory, db: Database
) -> None:
    alice, _ = await client_as("alice@example.test")
    carol, _ = await client_as("carol@example.test")
    ticket_id = await open_ticket(alice, files={"attachment": ("statement.pdf", PDF, "application/pdf")})
    [attachment] = await attachments(db)
    for url in (f"/support/{ticket_id}", f"/support/{ticket_id}/attachments/{attachment.id}"):
        assert (await carol.get(url)).status_code == 404
    for action in ("reply", "close", "reopen"):
        answer = await submit(carol, "/support", f"/support/{ticket_id}/{action}", {"message": "mine now"})
        assert answer.status_code == 404, action
    assert f'data-ticket="{ticket_id}"' not in (await carol.get("/support")).text
    assert [m.kind for m in await messages(db, ticket_id)] == [MessageKind.CLIENT.value]
    # Alice's own attachment id under another ticket of hers is not found either
    other = await open_ticket(alice, subject="Second")
    assert (await alice.get(f"/support/{other}/attachments/{attachment.id}")).status_code == 404


async def test_opening_tickets_is_rate_limited_per_client(client_as: ClientFactory, db: Database) -> None:
    alice, _ = await client_as("alice@example.test")
    bob, _ = await client_as("bob@example.test")
    for _ in range(MONEY_ACTIONS_PER_MINUTE):
        await open_ticket(alice)
    form = {"category": "funding", "priority": "normal", "subject": "Again", "message": "And again."}
    refused = await submit(alice, "/support/new", "/support/new", form)
    assert refused.status_code == 429
    assert "Too many requests" in page_text(refused.text)
    assert len(await tickets(db)) == MONEY_ACTIONS_PER_MINUTE
    await open_ticket(bob)  # the limit is per person
    assert len(await tickets(db)) == MONEY_ACTIONS_PER_MINUTE + 1
