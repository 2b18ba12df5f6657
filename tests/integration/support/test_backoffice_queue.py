"""The support queue over HTTP: staff filter the queue, assign, reply (mailed with the ticket's
Reply-To, in the client's language), write internal notes the client never sees, change statuses,
pick canned replies and set SLA targets; breaches show in the queue and the scheduled job marks
them once. Every action is audited, and staff without ``support.manage`` are refused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core import clock
from core.db import Database
from core.mail.models import OutboxMail
from core.settings import Settings
from support import sla
from support.models import SupportTicket, TicketStatus
from tests.helpers import latest_mail, submit
from tests.integration.settings.conftest import ClientFactory, StaffFactory, audit_events, page_text
from tests.integration.support.conftest import messages, open_ticket, tickets
from tests.worker_actors import actors_on_a_fresh_broker
from workers import runtime
from workers.scheduler import SCHEDULES

pytestmark = pytest.mark.asyncio
ZH = {"Accept-Language": "zh-CN"}


async def test_staff_work_a_ticket_and_the_client_sees_only_the_reply(
    client_as: ClientFactory, staff_as: StaffFactory, db: Database
) -> None:
    alice, alice_id = await client_as("alice@example.test")
    ticket_id = await open_ticket(alice)
    await open_ticket(alice, subject="Leverage question", category="trading", priority="low")
    agent = await staff_as("agent@staff.test", ["support"])

    queue = await agent.get("/support")
    assert queue.status_code == 200
    assert f'data-ticket="{ticket_id}"' in queue.text
    assert "My deposit has not arrived" in queue.text
    high = await agent.get("/support?priority=high&category=funding")
    assert "My deposit has not arrived" in high.text
    assert "Leverage question" not in high.text
    assert "Leverage question" not in (await agent.get("/support?category=funding")).text
    assert "My deposit has not arrived" not in (await agent.get("/support?status=closed")).text

    assigned = await submit(
        agent, f"/support/{ticket_id}", f"/support/{ticket_id}/assign", {"assignee": "me"}
    )
    assert assigned.status_code == 303
    mine = await agent.get("/support?assignee=me")
    assert "My deposit has not arrived" in mine.text
    assert "Leverage question" not in mine.text
    assert "Leverage question" in (await agent.get("/support?assignee=none")).text

    note = await submit(
        agent,
        f"/support/{ticket_id}",
        f"/support/{ticket_id}/note",
        {"note": "Wire seen at the bank, booking."},
    )
    assert note.status_code == 303
    reply = await submit(
        agent,
        f"/support/{ticket_id}",
        f"/support/{ticket_id}/reply",
        {"message": "Your deposit is credited now.", "status": "waiting_on_client"},
    )
    assert reply.status_code == 303

    [ticket, _other] = await tickets(db)
    assert ticket.status == TicketStatus.WAITING_ON_CLIENT.value
    assert ticket.first_response_at is not None
    assert ticket.assignee_id is not None
    mail = await latest_mail(db, "alice@example.test")
    assert mail.template == "support_reply"
    assert f"[Ticket #{ticket_id}]" in mail.subject
    assert "Your deposit is credited now." in mail.text_body
    assert "Wire seen at the bank" not in mail.text_body
    assert mail.reply_to == f"support+{ticket_id}.{ticket.reply_token}@broker.test"

    client_page = page_text((await alice.get(f"/support/{ticket_id}")).text)
    assert "Your deposit is credited now." in client_page
    assert "Wire seen at the bank" not in client_page
    api_thread = (await alice.get(f"/api/v1/support/tickets/{ticket_id}")).json()
    assert [m["author"] for m in api_thread["messages"]] == ["client", "staff"]
    assert "等待客户" in (await alice.get(f"/support/{ticket_id}", headers=ZH)).text
    assert "客服工单队列" in (await agent.get("/support", headers=ZH)).text
    assert "内部备注" in (await agent.get(f"/support/{ticket_id}", headers=ZH)).text
    staff_page = page_text((await agent.get(f"/support/{ticket_id}")).text)
    assert "Wire seen at the bank" in staff_page
    assert "Internal note" in staff_page

    resolved = await submit(
        agent, f"/support/{ticket_id}", f"/support/{ticket_id}/status", {"status": "resolved"}
    )
    assert resolved.status_code == 303
    assert (await tickets(db))[0].resolved_at is not None
    for action in (
        "support.ticket_assigned",
        "support.note_added",
        "support.staff_replied",
        "support.status_changed",
    ):
        [event] = await audit_events(db, action)
        assert event.target_id == str(ticket_id)
        assert event.actor_email == "agent@staff.test"

    # bad input: nothing written, and the page says what is wrong
    count = len(await messages(db, ticket_id))
    for action, data, expected in [
        ("reply", {"message": "  "}, "Write a message."),
        ("note", {"note": ""}, "Write a message."),
        ("status", {"status": "lost"}, "Choose a status."),
        ("assign", {"assignee": "x1"}, "Choose a staff member who handles support tickets."),
        ("assign", {"assignee": str(alice_id)}, "Choose a staff member who handles support tickets."),
        ("reply", {"message": "", "canned": "999"}, "Choose one of the canned replies."),
    ]:
        answer = await submit(agent, f"/support/{ticket_id}", f"/support/{ticket_id}/{action}", data)
        assert answer.status_code == 400, (action, data)
        assert expected in page_text(answer.text)
    assert len(await messages(db, ticket_id)) == count
    assert (await agent.get("/support/99999")).status_code == 404


async def test_the_client_360_page_lists_the_clients_tickets(
    client_as: ClientFactory, staff_as: StaffFactory
) -> None:
    alice, alice_id = await client_as("alice@example.test")
    ticket_id = await open_ticket(alice)
    agent = await staff_as("agent@staff.test", ["support"])
    page = await agent.get(f"/clients/{alice_id}")
    assert page.status_code == 200
    assert 'id="client-support-tickets"' in page.text
    assert f'data-ticket="{ticket_id}"' in page.text
    dealer = await staff_as("dealer@staff.test", ["dealing"])
    assert 'id="client-support-tickets"' not in (await dealer.get(f"/clients/{alice_id}")).text
    assert (await dealer.get("/support")).status_code == 403


async def test_canned_replies_are_managed_and_used_in_a_reply(
    client_as: ClientFactory, staff_as: StaffFactory, db: Database
) -> None:
    alice, _ = await client_as("alice@example.test")
    ticket_id = await open_ticket(alice)
    lead = await staff_as("lead@staff.test", ["support"])
    made = await submit(
        lead,
        "/support/settings",
        "/support/settings/canned",
        {"title": "Wire timing", "body": "Bank wires take one to three working days."},
    )
    assert made.status_code == 303
    again = await submit(
        lead, "/support/settings", "/support/settings/canned", {"title": "Wire timing", "body": "x"}
    )
    assert again.status_code == 400
    assert "Another canned reply has this title." in page_text(again.text)
    empty = await submit(
        lead, "/support/settings", "/support/settings/canned", {"title": "Empty", "body": " "}
    )
    assert empty.status_code == 400

    ticket_page = await lead.get(f"/support/{ticket_id}")
    assert "Wire timing" in ticket_page.text
    canned_id = re.search(r'<option value="(\d+)">Wire timing</option>', ticket_page.text)
    assert canned_id
    sent = await submit(
        lead,
        f"/support/{ticket_id}",
        f"/support/{ticket_id}/reply",
        {"message": "", "canned": canned_id.group(1)},
    )
    assert sent.status_code == 303
    assert (await messages(db, ticket_id))[-1].body == "Bank wires take one to three working days."
    changed = await submit(
        lead,
        "/support/settings",
        f"/support/settings/canned/{canned_id.group(1)}",
        {"title": "Wire timing", "body": "Wires take 1-3 days.", "active": ""},
    )
    assert changed.status_code == 303
    assert "Wire timing" not in (await lead.get(f"/support/{ticket_id}")).text  # inactive: not offered
    deleted = await submit(
        lead, "/support/settings", f"/support/settings/canned/{canned_id.group(1)}/delete", {}
    )
    assert deleted.status_code == 303
    assert [
        len(await audit_events(db, f"support.canned_reply_{verb}"))
        for verb in ("created", "changed", "deleted")
    ] == [
        1,
        1,
        1,
    ]


async def test_sla_targets_flag_breaches_and_the_job_marks_them_once(
    client_as: ClientFactory, staff_as: StaffFactory, db: Database, settings: Settings
) -> None:
    lead = await staff_as("lead@staff.test", ["support"])
    targets = {
        f"{p}_{part}": "30" if part == "first_response" else "120"
        for p in sla.DEFAULT_TARGETS
        for part in ("first_response", "resolution")
    }
    bad = await submit(
        lead, "/support/settings", "/support/settings/sla", {**targets, "urgent_resolution": "10"}
    )
    assert bad.status_code == 400
    assert "can't be sooner than the first response" in page_text(bad.text)
    bad = await submit(
        lead, "/support/settings", "/support/settings/sla", {**targets, "low_first_response": "soon"}
    )
    assert bad.status_code == 400
    assert "Enter whole minutes" in page_text(bad.text)
    saved = await submit(lead, "/support/settings", "/support/settings/sla", targets)
    assert saved.status_code == 303
    [event] = await audit_events(db, "support.sla_changed")
    assert event.after
    assert event.after["urgent"] == {"first_response_minutes": 30, "resolution_minutes": 120}

    alice, _ = await client_as("alice@example.test")
    ticket_id = await open_ticket(alice, priority="urgent")
    [ticket] = await tickets(db)
    opened = clock.as_utc(ticket.created_at)
    assert clock.as_utc(ticket.first_response_due_at) == opened + timedelta(minutes=30)
    assert clock.as_utc(ticket.resolution_due_at) == opened + timedelta(minutes=120)
    assert "sla-breach" not in (await lead.get("/support")).text

    async with db.transaction() as session:  # the ticket was opened two hours ago
        await session.execute(
            update(SupportTicket)
            .where(SupportTicket.id == ticket_id)
            .values(
                created_at=opened - timedelta(hours=2),
                first_response_due_at=opened - timedelta(minutes=90),
                resolution_due_at=opened - timedelta(seconds=1),
            )
        )
    queue = await lead.get("/support?breached=1")
    assert f'data-ticket="{ticket_id}"' in queue.text
    assert 'data-breach="first_response"' in queue.text
    assert 'data-breach="resolution"' in queue.text

    actors = actors_on_a_fresh_broker()
    previous = runtime._runtime
    runtime.install(runtime.WorkerRuntime(settings=settings, database=db))
    try:
        await actors.mark_sla_breaches.fn.__wrapped__()
        await actors.mark_sla_breaches.fn.__wrapped__()
    finally:
        runtime._runtime = previous
    [ticket] = await tickets(db)
    assert ticket.first_response_breached_at is not None
    assert ticket.resolution_breached_at is not None
    events = await audit_events(db, "support.sla_breached")
    assert sorted(e.after["target"] for e in events if e.after) == ["first_response", "resolution"]

    assert any(s.actor_name == "support.mark_sla_breaches" for s in SCHEDULES)
    async with db.session() as session:
        assert await session.scalar(select(OutboxMail.id)) is None
