"""The portal's JSON API for tickets: list, open, read and reply, with the same checks as the
pages; bad input is a 400 that names the field, another client's ticket is 404."""

from __future__ import annotations

import pytest

from core.db import Database
from support.models import MessageSource
from tests.helpers import csrf_from
from tests.integration.settings.conftest import ClientFactory
from tests.integration.support.conftest import messages, open_ticket, tickets

pytestmark = pytest.mark.asyncio


async def test_clients_list_open_and_reply_to_tickets_as_json(client_as: ClientFactory, db: Database) -> None:
    alice, _ = await client_as("alice@example.test")
    headers = {"x-csrftoken": csrf_from((await alice.get("/support/new")).text)}
    made = await alice.post(
        "/api/v1/support/tickets",
        json={
            "category": "trading",
            "priority": "normal",
            "subject": "Swap rates",
            "message": "Where are they?",
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    ticket_id = made.json()["id"]
    assert made.json()["status"] == "new"
    listed = (await alice.get("/api/v1/support/tickets")).json()
    assert [t["id"] for t in listed] == [ticket_id]
    replied = await alice.post(
        f"/api/v1/support/tickets/{ticket_id}/replies", json={"message": "Also for gold."}, headers=headers
    )
    assert replied.status_code == 201
    thread = (await alice.get(f"/api/v1/support/tickets/{ticket_id}")).json()
    assert [m["body"] for m in thread["messages"]] == ["Where are they?", "Also for gold."]
    assert {m.source for m in await messages(db, ticket_id)} == {MessageSource.API.value}

    for body, field in [
        ({"category": "trading", "priority": "normal", "subject": "x", "message": ""}, "message"),
        ({"category": "cars", "priority": "normal", "subject": "x", "message": "y"}, "category"),
        ({"category": "trading", "priority": "normal", "subject": 5, "message": "y"}, "subject"),
    ]:
        refused = await alice.post("/api/v1/support/tickets", json=body, headers=headers)
        assert refused.status_code == 400
        assert refused.json()["field"] == field
    empty = await alice.post(
        f"/api/v1/support/tickets/{ticket_id}/replies", json={"message": " "}, headers=headers
    )
    assert empty.status_code == 400
    assert empty.json()["detail"] == "Write a message."
    assert len(await tickets(db)) == 1


async def test_another_clients_ticket_is_not_found_in_the_api(client_as: ClientFactory, db: Database) -> None:
    alice, _ = await client_as("alice@example.test")
    carol, _ = await client_as("carol@example.test")
    ticket_id = await open_ticket(alice)
    headers = {"x-csrftoken": csrf_from((await carol.get("/support/new")).text)}
    assert (await carol.get(f"/api/v1/support/tickets/{ticket_id}")).status_code == 404
    answer = await carol.post(
        f"/api/v1/support/tickets/{ticket_id}/replies", json={"message": "hi"}, headers=headers
    )
    assert answer.status_code == 404
    assert (await carol.get("/api/v1/support/tickets")).json() == []
    assert len(await messages(db, ticket_id)) == 1
