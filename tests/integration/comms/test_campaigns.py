"""Campaigns over HTTP against a real SMTP server on loopback: staff write one for a saved segment,
preview and send it; each client gets it once in their language, with tracked links, an open pixel
and a one-click unsubscribe; a 550 is a bounce, a 451 is retried; unsubscribed clients are skipped
and counted; an empty segment is refused; transactional mail still reaches unsubscribed clients."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from comms import campaign_sending
from comms.campaign_models import Campaign, CampaignRecipient, MarketingOptOut
from comms.campaign_sending import send_batch, start_due_and_fan_out
from core import clock
from core.audit.models import AuditEvent
from core.db import Database
from core.identity.models import User
from core.jobs import Job
from core.mail.delivery import deliver_mail
from core.mail.models import OutboxMail
from core.mail.templates import render_strings
from core.settings import Settings
from crm.models import ClientOwner, StaffScope
from tests.helpers import submit
from tests.integration.comms.conftest import Mailbox
from tests.integration.comms.helpers import (
    act,
    add_clients,
    create_campaign,
    html_of,
    path_of,
    recipients,
    save_segment,
    shown_count,
    text_of,
)
from tests.integration.settings.conftest import ClientFactory, StaffFactory, count, page_text

pytestmark = pytest.mark.asyncio


async def test_a_campaign_reaches_each_client_once_in_their_language_with_tracking(
    staff_as: StaffFactory,
    db: Database,
    settings: Settings,
    smtp_settings: Settings,
    mailbox: tuple[Mailbox, int],
    portal_client: AsyncTestClient,
    sent_jobs: list[Job],
) -> None:
    box, _ = mailbox
    staff = await staff_as("marketing@staff.test", ["support"])
    [ann] = await add_clients(db, settings, "ann@campaign.test")
    await add_clients(db, settings, "bo@campaign.test", language="zh_Hans")
    [_gone, quiet] = await add_clients(db, settings, "gone@campaign.test", "quiet@campaign.test")
    await add_clients(db, settings, "outsider@elsewhere.test")
    box.refuse.add("gone@campaign.test")
    async with db.transaction() as session:
        session.add(MarketingOptOut(client_id=quiet, opted_out_at=clock.utcnow()))

    segment_id = await save_segment(staff, "Campaign testers", "campaign.test")
    campaign_id = await create_campaign(staff, segment_id)
    preview = await staff.get(f"/campaigns/{campaign_id}/preview")
    assert preview.status_code == 200
    assert "News for Sample Client" in page_text(preview.text)
    assert "Sample Client，新点差" in page_text(preview.text)  # noqa: RUF001

    started = await act(staff, campaign_id, "send")
    assert started.status_code == 303, page_text(started.text)
    assert sent_jobs[-1] == Job("comms.send_campaign", (campaign_id,))
    result = await send_batch(db, smtp_settings, render_strings, campaign_id)
    assert (result.claimed, result.delivered, result.bounced, result.skipped) == (3, 2, 1, 1)
    assert result.finished

    [to_ann] = box.to("ann@campaign.test")
    [to_bo] = box.to("bo@campaign.test")
    assert box.to("gone@campaign.test") == []
    assert box.to("quiet@campaign.test") == []
    assert box.to("outsider@elsewhere.test") == []
    assert to_ann["Subject"] == "News for ann"
    assert to_bo["Subject"] == "bo，新点差"  # noqa: RUF001
    assert to_ann["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = to_ann["List-Unsubscribe"].strip("<>")
    text = text_of(to_ann)
    assert "Hello ann," in text
    assert "https://broker.example.com/offer" not in text  # every campaign link is a tracked redirect
    assert unsubscribe_url in text
    html = html_of(to_ann)
    assert 'href="http://portal.test/mail/click/' in html
    assert "https://broker.example.com/offer?src=mail</a>" in html  # shown as written, tracked in the href
    assert f'href="{unsubscribe_url}"' in html

    rows = await recipients(db, campaign_id)
    assert {a: r.status for a, r in rows.items()} == {
        "ann@campaign.test": "delivered",
        "bo@campaign.test": "delivered",
        "gone@campaign.test": "bounced",
        "quiet@campaign.test": "skipped",
    }
    assert rows["gone@campaign.test"].smtp_code == 550
    assert "mailbox unavailable" in rows["gone@campaign.test"].smtp_answer

    # a redelivered job mails nobody twice
    again = await send_batch(db, smtp_settings, render_strings, campaign_id)
    assert again.claimed == 0
    assert len(box.messages) == 2

    # the open pixel: served by us, signed per recipient, counted once per recipient
    pixel = re.search(r'<img src="([^"]+)"', html_of(to_ann))
    assert pixel
    for _ in range(2):
        seen = await portal_client.get(path_of(pixel.group(1)))
        assert seen.status_code == 200
        assert seen.headers["content-type"] == "image/gif"
        assert seen.content.startswith(b"GIF89a")
    forged_pixel = re.sub(r"open/(\d+)-", lambda m: f"open/{int(m.group(1)) + 1}-", path_of(pixel.group(1)))
    assert (await portal_client.get(forged_pixel)).status_code == 404

    # a click: recorded, then redirected to the original link only
    clicks = re.findall(r"http://portal\.test/mail/click/[\w-]+", text)
    assert len(clicks) == 2
    clicked = await portal_client.get(path_of(clicks[0]), follow_redirects=False)
    assert clicked.status_code == 302
    assert clicked.headers["location"] == "https://broker.example.com/offer?src=mail"
    second = await portal_client.get(path_of(clicks[1]), follow_redirects=False)
    assert second.headers["location"] == "https://broker.example.com/blog"
    tampered = re.sub(r"-(\d+)-", "-7-", path_of(clicks[0]), count=1)
    assert (await portal_client.get(tampered, follow_redirects=False)).status_code == 404
    assert (
        await portal_client.get(path_of(clicks[0]) + "?next=https://evil.test", follow_redirects=False)
    ).headers["location"] == "https://broker.example.com/offer?src=mail"

    page = await staff.get(f"/campaigns/{campaign_id}")
    assert page.status_code == 200
    expected = {
        "recipients": 4,
        "sent": 3,
        "delivered": 2,
        "bounced": 1,
        "skipped": 1,
        "opened": 1,
        "clicked": 1,
    }
    assert {name: shown_count(page.text, name) for name in expected} == expected

    # one-click unsubscribe as a mail client sends it: no cookie, no CSRF token
    async with AsyncTestClient(app=portal_client.app) as mail_client:
        confirm = await mail_client.get(path_of(unsubscribe_url))
        assert confirm.status_code == 200
        assert "ann@campaign.test" in page_text(confirm.text)
        assert await count(db, MarketingOptOut) == 1  # a GET (a link scanner) changes nothing
        done = await mail_client.post(path_of(unsubscribe_url), data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200
        assert "no longer receives marketing mail" in page_text(done.text)
        forged = re.sub(r"/(\d+)-", lambda m: f"/{int(m.group(1)) + 1}-", path_of(unsubscribe_url))
        assert (await mail_client.post(forged, data={})).status_code == 404
    async with db.session() as session:
        opted = set(await session.scalars(select(MarketingOptOut.client_id)))
        actions = list(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("comms.%")))
        )
    assert opted == {quiet, ann}
    assert {"comms.campaign_created", "comms.campaign_started", "comms.marketing_unsubscribed"} <= set(
        actions
    )


async def test_an_empty_segment_is_refused_and_nothing_changes(
    staff_as: StaffFactory, db: Database, settings: Settings, sent_jobs: list[Job]
) -> None:
    staff = await staff_as("marketing@staff.test", ["support"])
    await add_clients(db, settings, "someone@campaign.test")
    empty = await save_segment(staff, "Nobody", "nobody.matches")
    campaign_id = await create_campaign(staff, empty)
    for action, data in (("send", {}), ("schedule", {"send_at": "2099-01-01T09:00"})):
        refused = await act(staff, campaign_id, action, **data)
        assert refused.status_code == 400, action
        assert "holds no client to mail" in page_text(refused.text)
        assert "nothing was sent or scheduled" in page_text(refused.text)
    assert await count(db, CampaignRecipient) == 0
    async with db.session() as session:
        row = await session.get_one(Campaign, campaign_id)
    assert row.status == "draft"
    assert [job for job in sent_jobs if job.actor_name == "comms.send_campaign"] == []


async def test_bad_input_is_refused_with_a_clear_message(staff_as: StaffFactory, db: Database) -> None:
    staff = await staff_as("marketing@staff.test", ["support"])
    outsider = await staff_as("money@staff.test", ["finance"])
    assert (await outsider.get("/campaigns")).status_code == 403
    segment_id = await save_segment(staff, "Everyone", "example")
    base = {
        "name": "X",
        "segment_id": str(segment_id),
        "subject_en": "Hi",
        "body_en": "Text",
        "mails_per_minute": "60",
    }
    cases = [
        ({"name": ""}, "Name: required."),
        ({"segment_id": "999999"}, "Segment: choose one of your saved or shared segments."),
        ({"subject_en": ""}, "English subject: required."),
        ({"subject_zh_hans": "你好"}, "Chinese subject and text: give both or neither."),
        ({"mails_per_minute": "0"}, "Mails per minute: a whole number from 1 to 10000."),
        ({"body_en": "Hello {{ client.nam }}"}, "English text: text, line 1"),
        ({"body_en": "Hello {% if %}"}, "English text: text, line 1"),
        ({"body_en": "{{ ''.__class__.__mro__ }}"}, "English text"),
    ]
    for change, message in cases:
        refused = await submit(staff, "/campaigns/new", "/campaigns", {**base, **change})
        assert refused.status_code == 400, change
        assert message in page_text(refused.text), (change, page_text(refused.text)[:2000])
    assert await count(db, Campaign) == 0
    campaign_id = await create_campaign(staff, segment_id)
    wrong_time = await act(staff, campaign_id, "schedule", send_at="tomorrow")
    assert wrong_time.status_code == 400
    assert "Send at: use the form" in page_text(wrong_time.text)
    past = await act(staff, campaign_id, "schedule", send_at="2020-01-01T09:00")
    assert "Send at: must be in the future" in page_text(past.text)
    assert (await staff.get("/campaigns/999999")).status_code == 404


async def test_a_4xx_is_retried_later_and_the_rate_is_kept(
    staff_as: StaffFactory,
    db: Database,
    settings: Settings,
    smtp_settings: Settings,
    mailbox: tuple[Mailbox, int],
) -> None:
    box, _ = mailbox
    staff = await staff_as("marketing@staff.test", ["support"])
    await add_clients(db, settings, "a@rate.test", "b@rate.test", "c@rate.test")
    box.busy_once.add("a@rate.test")
    segment_id = await save_segment(staff, "Rate", "rate.test")
    campaign_id = await create_campaign(staff, segment_id, mails_per_minute="2")
    assert (await act(staff, campaign_id, "send")).status_code == 303

    now = clock.utcnow()
    first = await send_batch(db, smtp_settings, render_strings, campaign_id, now)
    assert (first.claimed, first.delivered, first.retried) == (2, 1, 1)
    assert (
        await send_batch(db, smtp_settings, render_strings, campaign_id, now + timedelta(seconds=30))
    ).claimed == 0
    rows = await recipients(db, campaign_id)
    assert rows["a@rate.test"].status == "pending"
    assert rows["a@rate.test"].smtp_code == 451
    later = await send_batch(db, smtp_settings, render_strings, campaign_id, now + timedelta(seconds=61))
    assert (later.claimed, later.delivered) == (1, 1)  # c; a waits for its backoff
    last = await send_batch(db, smtp_settings, render_strings, campaign_id, now + timedelta(minutes=6))
    assert (last.claimed, last.delivered, last.finished) == (1, 1, True)
    assert sorted(m["To"] for m in box.messages) == ["a@rate.test", "b@rate.test", "c@rate.test"]
    rows = await recipients(db, campaign_id)
    assert rows["a@rate.test"].attempts == 2
    assert rows["a@rate.test"].status == "delivered"


async def test_schedule_then_the_due_job_starts_it_and_cancel_stops_it(
    staff_as: StaffFactory, db: Database, settings: Settings, sent_jobs: list[Job]
) -> None:
    staff = await staff_as("marketing@staff.test", ["support"])
    await add_clients(db, settings, "x@sched.test", "y@sched.test")
    segment_id = await save_segment(staff, "Sched", "sched.test")
    campaign_id = await create_campaign(staff, segment_id)
    scheduled = await act(staff, campaign_id, "schedule", send_at="2099-01-01T09:00")
    assert scheduled.status_code == 303
    edit = await submit(staff, f"/campaigns/{campaign_id}", f"/campaigns/{campaign_id}", {"name": "Changed"})
    assert edit.status_code == 400
    assert "Only a draft can be edited" in page_text(edit.text)
    assert await start_due_and_fan_out(db) == []  # not due yet
    unscheduled = await act(staff, campaign_id, "cancel")
    assert unscheduled.status_code == 303
    async with db.session() as session:
        assert (await session.get_one(Campaign, campaign_id)).status == "draft"
    assert (await act(staff, campaign_id, "schedule", send_at="2099-01-01T09:00")).status_code == 303

    async with db.transaction() as session:
        row = await session.get_one(Campaign, campaign_id)
        row.send_at = clock.utcnow() - timedelta(minutes=1)
    assert await start_due_and_fan_out(db) == [campaign_id]
    assert len(await recipients(db, campaign_id)) == 2
    cancelled = await act(staff, campaign_id, "cancel")
    assert cancelled.status_code == 303
    rows = await recipients(db, campaign_id)
    assert {r.status for r in rows.values()} == {"cancelled"}
    page = await staff.get(f"/campaigns/{campaign_id}")
    assert shown_count(page.text, "cancelled") == 2
    assert (await act(staff, campaign_id, "cancel")).status_code == 400


async def test_transactional_mail_reaches_an_unsubscribed_client(
    client_as: ClientFactory,
    portal_client: AsyncTestClient,
    db: Database,
    smtp_settings: Settings,
    mailbox: tuple[Mailbox, int],
    sent_jobs: list[Job],
) -> None:
    box, _ = mailbox
    client, client_id = await client_as("unsub@client.test")
    account = await client.get("/account")
    assert "Marketing mail" in account.text
    off = await submit(client, "/account", "/account/marketing", {"marketing": "off"})
    assert off.status_code == 303
    assert await count(db, MarketingOptOut) == 1
    assert "You receive no marketing mail from us." in page_text((await client.get("/account")).text)

    asked = await submit(
        portal_client, "/forgot-password", "/forgot-password", {"email": "unsub@client.test"}
    )
    assert asked.status_code in (200, 303)
    async with db.session() as session:
        mail = await session.scalar(select(OutboxMail).where(OutboxMail.to_address == "unsub@client.test"))
    assert mail is not None
    assert mail.template == "reset_password"
    assert await deliver_mail(db, smtp_settings, mail.id) == "sent"
    assert [m["To"] for m in box.messages] == ["unsub@client.test"]

    on = await submit(client, "/account", "/account/marketing", {"marketing": "on"})
    assert on.status_code == 303
    assert await count(db, MarketingOptOut) == 0
    async with db.session() as session:
        events = list(
            await session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.target_id == str(client_id), AuditEvent.action.like("comms.%")
                )
            )
        )
    assert events == ["comms.marketing_unsubscribed", "comms.marketing_subscribed"]


async def test_the_segment_is_resolved_with_the_authors_data_scope(
    staff_as: StaffFactory, db: Database, settings: Settings
) -> None:
    lead = await staff_as("lead@staff.test", ["support"])
    seller = await staff_as("seller@staff.test", ["support"])
    mine, theirs, unassigned = await add_clients(db, settings, "m@scope.test", "t@scope.test", "u@scope.test")
    async with db.transaction() as session:
        ids = dict(
            (await session.execute(select(User.email, User.id).where(User.email.like("%@staff.test")))).all()
        )
        session.add(StaffScope(user_id=ids["seller@staff.test"], kind="own", team=""))
        session.add(ClientOwner(client_id=mine, owner_id=ids["seller@staff.test"]))
        session.add(ClientOwner(client_id=theirs, owner_id=ids["lead@staff.test"]))
    shared = await save_segment(lead, "Scope test", "scope.test")

    for staff, expected in ((seller, {mine}), (lead, {mine, theirs, unassigned})):
        campaign_id = await create_campaign(staff, shared)
        assert (await act(staff, campaign_id, "send")).status_code == 303
        rows = await recipients(db, campaign_id)
        assert {row.client_id for row in rows.values()} == expected


async def test_results_as_json(
    staff_as: StaffFactory,
    db: Database,
    settings: Settings,
    smtp_settings: Settings,
    mailbox: tuple[Mailbox, int],
) -> None:
    staff = await staff_as("marketing@staff.test", ["support"])
    await add_clients(db, settings, "j1@json.test", "j2@json.test")
    mailbox[0].refuse.add("j2@json.test")
    campaign_id = await create_campaign(staff, await save_segment(staff, "JSON", "json.test"))
    assert (await act(staff, campaign_id, "send")).status_code == 303
    await send_batch(db, smtp_settings, render_strings, campaign_id)
    one = await staff.get(f"/api/v1/campaigns/{campaign_id}")
    assert one.status_code == 200
    body = one.json()
    assert (body["status"], body["recipients"], body["delivered"], body["bounced"]) == ("sent", 2, 1, 1)
    assert [item["id"] for item in (await staff.get("/api/v1/campaigns")).json()] == [campaign_id]
    missing = await staff.get("/api/v1/campaigns/999999")
    assert missing.status_code == 404
    assert "no campaign 999999" in missing.json()["detail"]
    outsider = await staff_as("money@staff.test", ["finance"])
    assert (await outsider.get(f"/api/v1/campaigns/{campaign_id}")).status_code == 403


async def test_a_full_batch_asks_for_the_next_one(
    staff_as: StaffFactory,
    db: Database,
    settings: Settings,
    smtp_settings: Settings,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(campaign_sending, "MAX_BATCH", 2)
    staff = await staff_as("marketing@staff.test", ["support"])
    await add_clients(db, settings, "b1@batch.test", "b2@batch.test", "b3@batch.test")
    campaign_id = await create_campaign(staff, await save_segment(staff, "Batch", "batch.test"))
    assert (await act(staff, campaign_id, "send")).status_code == 303
    first = await send_batch(db, smtp_settings, render_strings, campaign_id)
    assert (first.claimed, first.more) == (2, True)
    second = await send_batch(db, smtp_settings, render_strings, campaign_id)
    assert (second.claimed, second.finished, second.more) == (1, True, False)
    assert len(mailbox[0].messages) == 3


async def test_a_segment_emptied_after_scheduling_finishes_with_nobody_mailed(
    staff_as: StaffFactory, db: Database, settings: Settings, sent_jobs: list[Job]
) -> None:
    staff = await staff_as("marketing@staff.test", ["support"])
    [client_id] = await add_clients(db, settings, "soon@gone.test")
    campaign_id = await create_campaign(staff, await save_segment(staff, "Gone", "gone.test"))
    assert (await act(staff, campaign_id, "schedule", send_at="2099-01-01T09:00")).status_code == 303
    async with db.transaction() as session:
        (await session.get_one(User, client_id)).email = "moved@elsewhere.test"
        (await session.get_one(Campaign, campaign_id)).send_at = clock.utcnow() - timedelta(seconds=1)
    assert await start_due_and_fan_out(db) == []
    async with db.session() as session:
        row = await session.get_one(Campaign, campaign_id)
        started = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "comms.campaign_started", AuditEvent.target_id == str(campaign_id)
            )
        )
    assert row.status == "sent"
    assert started is not None
    assert started.after["recipients"] == 0
    assert await count(db, CampaignRecipient) == 0
    assert [job for job in sent_jobs if job.actor_name == "comms.send_campaign"] == []
    page = await staff.get(f"/campaigns/{campaign_id}")
    assert shown_count(page.text, "recipients") == 0
