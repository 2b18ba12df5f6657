"""Outbound webhooks over HTTP: staff register an endpoint in the back office, a client registers in
the portal, and a real receiver on loopback gets the signed event once, after a 500 and a retry."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core import clock, jobs
from core.audit.models import AuditEvent
from core.db import Database
from core.events import DomainEvent, EventKind
from core.identity.models import User
from core.secrets_box import SecretsBox
from core.settings import Settings
from tests import log_watch
from tests.helpers import STRONG_PASSWORD, csrf_from, make_staff, staff_sign_in, submit
from tests.integration.webhooks.receiver import running_receiver
from webhooks.delivery import SEND_ACTOR, DeliveryPolicy, deliver_due, send_one
from webhooks.models import Delivery, DeliveryStatus, Endpoint
from webhooks.signing import EVENT_ID_HEADER, SECRET_PREFIX

pytestmark = pytest.mark.asyncio

ADMIN = "webhook.admin@example.test"
CLIENT_EMAIL = "hook.client@example.test"
SECRET = re.compile(r'<code class="webhook-secret">([^<]+)</code>')
POLICY = DeliveryPolicy(max_attempts=3)


async def sign_in_admin(backoffice_client: AsyncTestClient, db: Database, settings: Settings) -> None:
    _, totp = await make_staff(db, settings, ADMIN, ["admin"])
    assert totp is not None
    await staff_sign_in(backoffice_client, ADMIN, totp)


async def register_endpoint(client: AsyncTestClient, url: str, kinds: list[str]) -> tuple[int, str]:
    """Register over HTTP; returns the endpoint's id and the secret its page showed once."""
    answer = await submit(client, "/webhooks/new", "/webhooks", {"url": url, "kinds": kinds, "enabled": "on"})
    assert answer.status_code == 200, answer.text
    match = SECRET.search(answer.text)
    assert match, answer.text
    secret = match.group(1)
    log_watch.remember(secret, what="a webhook endpoint's signing secret")
    found = re.search(r'href="/webhooks/(\d+)"', answer.text)
    assert found
    return int(found.group(1)), secret


async def register_client(portal_client: AsyncTestClient, email: str = CLIENT_EMAIL) -> None:
    answer = await submit(
        portal_client, "/register", "/register", {"email": email, "password": STRONG_PASSWORD}
    )
    assert answer.status_code == 200, answer.text


async def deliveries(db: Database, endpoint_id: int) -> list[Delivery]:
    async with db.session() as session:
        return list(await session.scalars(select(Delivery).where(Delivery.endpoint_id == endpoint_id)))


async def test_a_500_then_a_200_delivers_each_signed_event_once(
    backoffice_client: AsyncTestClient,
    portal_client: AsyncTestClient,
    db: Database,
    settings: Settings,
    sent_jobs: list[jobs.Job],
) -> None:
    box = SecretsBox.from_settings(settings)
    await sign_in_admin(backoffice_client, db, settings)
    with running_receiver(fail_first=True) as receiver:
        endpoint_id, secret = await register_endpoint(
            backoffice_client, receiver.url, ["client.registered", "kyc.approved"]
        )
        receiver.secret = secret
        assert secret.startswith(SECRET_PREFIX)
        # shown once: not on the endpoint's page, not in its row in clear
        assert secret not in (await backoffice_client.get(f"/webhooks/{endpoint_id}")).text
        async with db.session() as session:
            row = await session.get_one(Endpoint, endpoint_id)
            assert secret.encode() not in row.secret_sealed

        await register_client(portal_client)
        async with db.session() as session:
            client_id = await session.scalar(select(User.id).where(User.email == CLIENT_EMAIL))
            [event] = list(await session.scalars(select(DomainEvent)))
        assert event.kind == EventKind.CLIENT_REGISTERED
        assert event.payload == {"client_id": client_id, "language": "en", "source": "portal"}

        start = clock.utcnow()
        first = await deliver_due(db, box, POLICY, now=start)
        assert (first.fanned_out, first.retrying, first.delivered) == (1, 1, 0)
        [delivery] = await deliveries(db, endpoint_id)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        assert "HTTP 500" in delivery.last_error

        # not due yet: the backoff holds it back, and a second sweep fans nothing out again
        early = await deliver_due(db, box, POLICY, now=start + timedelta(seconds=1))
        assert (early.fanned_out, early.statuses) == (0, {})
        assert len(receiver.hits) == 1

        later = await deliver_due(db, box, POLICY, now=start + POLICY.backoff(1) + timedelta(seconds=1))
        assert later.delivered == 1
        [delivery] = await deliveries(db, endpoint_id)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)

        assert [hit.answered for hit in receiver.hits] == [500, 200]
        assert all(hit.signature_ok for hit in receiver.hits)
        assert {hit.event_id for hit in receiver.hits} == {event.uid}
        assert receiver.processed == [event.uid]
        body = receiver.hits[-1].body
        assert body == {
            "id": event.uid,
            "kind": "client.registered",
            "occurred_at": body["occurred_at"],
            "data": {"client_id": client_id, "language": "en", "source": "portal"},
        }

        log = await backoffice_client.get(f"/webhooks/{endpoint_id}/deliveries")
        assert log.status_code == 200
        line = re.search(rf'<tr class="delivery-row" data-id="{delivery.id}"[^>]*>(.*?)</tr>', log.text, re.S)
        assert line, log.text
        assert 'data-status="delivered"' in line.group(0)
        assert '<td class="attempts">2</td>' in line.group(1)
        assert '<td class="code">200</td>' in line.group(1)
        assert event.uid in line.group(1)

        # replay: a new attempt of the same event id; the receiver dedupes it
        sent_jobs.clear()
        replay = await submit(
            backoffice_client,
            f"/webhooks/{endpoint_id}/deliveries",
            f"/webhooks/{endpoint_id}/deliveries/{delivery.id}/replay",
            {},
        )
        assert replay.status_code == 303
        assert sent_jobs == [jobs.Job(SEND_ACTOR, (delivery.id,), {})]
        assert await send_one(db, box, delivery.id, POLICY) == DeliveryStatus.DELIVERED
        assert [hit.event_id for hit in receiver.hits] == [event.uid] * 3
        assert receiver.hits[-1].headers[EVENT_ID_HEADER.lower()] == event.uid
        assert receiver.processed == [event.uid]
        [delivery] = await deliveries(db, endpoint_id)
        assert (delivery.status, delivery.attempts) == ("delivered", 3)

    async with db.session() as session:
        actions = set(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith("webhooks.")))
        )
    assert actions == {"webhooks.endpoint_created", "webhooks.delivery_replayed"}


async def test_retries_stop_at_the_limit_and_a_replay_starts_a_new_round(
    backoffice_client: AsyncTestClient, portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    box = SecretsBox.from_settings(settings)
    policy = DeliveryPolicy(max_attempts=2)
    await sign_in_admin(backoffice_client, db, settings)
    with running_receiver(always_fail=True) as receiver:
        endpoint_id, receiver.secret = await register_endpoint(
            backoffice_client, receiver.url, ["client.registered"]
        )
        await register_client(portal_client)
        now = clock.utcnow()
        await deliver_due(db, box, policy, now=now)
        last = await deliver_due(db, box, policy, now=now + timedelta(hours=1))
        assert last.failed == 1
        [delivery] = await deliveries(db, endpoint_id)
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)
        assert (await deliver_due(db, box, policy, now=now + timedelta(days=1))).statuses == {}
        log = await backoffice_client.get(f"/webhooks/{endpoint_id}/deliveries?status=failed")
        assert f'data-id="{delivery.id}" data-status="failed"' in log.text

        receiver.always_fail = False
        receiver.fail_first = False
        answer = await submit(
            backoffice_client,
            f"/webhooks/{endpoint_id}/deliveries",
            f"/webhooks/{endpoint_id}/deliveries/{delivery.id}/replay",
            {},
        )
        assert answer.status_code == 303
        assert (await deliver_due(db, box, policy)).delivered == 1
        assert len(receiver.processed) == 1
    [delivery] = await deliveries(db, endpoint_id)
    assert (delivery.status, delivery.attempts, delivery.round_attempts) == ("delivered", 3, 1)


async def test_events_go_only_to_endpoints_that_are_enabled_and_want_their_kind(
    backoffice_client: AsyncTestClient, portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await sign_in_admin(backoffice_client, db, settings)
    wants, _ = await register_endpoint(
        backoffice_client, "https://hooks.example.test/a", ["client.registered"]
    )
    other, _ = await register_endpoint(
        backoffice_client, "https://hooks.example.test/b", ["deposit.completed"]
    )
    off, _ = await register_endpoint(backoffice_client, "http://127.0.0.1:9/c", ["client.registered"])
    answer = await submit(
        backoffice_client,
        f"/webhooks/{off}",
        f"/webhooks/{off}",
        {"url": "http://127.0.0.1:9/c", "kinds": ["client.registered"]},
    )
    assert answer.status_code == 303
    await register_client(portal_client)
    async with db.transaction() as session:
        from webhooks.fan_out import fan_out_new_events

        assert await fan_out_new_events(session, clock.utcnow()) == 1
        assert await fan_out_new_events(session, clock.utcnow()) == 0
    assert len(await deliveries(db, wants)) == 1
    assert await deliveries(db, other) == []
    assert await deliveries(db, off) == []


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"url": "ftp://hooks.example.test/x", "kinds": ["client.registered"]}, "must start with https://"),
        ({"url": "not a url", "kinds": ["client.registered"]}, "no spaces"),
        ({"url": "https://", "kinds": ["client.registered"]}, "give a host name"),
        (
            {"url": "http://hooks.example.test/x", "kinds": ["client.registered"]},
            "only for a loopback address",
        ),
        ({"url": "http://10.1.2.3/x", "kinds": ["client.registered"]}, "only for a loopback address"),
        ({"url": "https://user:pw@hooks.example.test/x", "kinds": ["client.registered"]}, "no user name"),
        ({"url": "https://hooks.example.test/x", "kinds": []}, "choose at least one"),
        ({"url": "https://hooks.example.test/x", "kinds": ["client.deleted"]}, "choose from the kinds"),
        ({"url": "https://hooks.example.test/" + "x" * 500, "kinds": ["kyc.approved"]}, "at most 500"),
    ],
)
async def test_bad_input_is_refused_with_a_clear_message_and_nothing_saved(
    backoffice_client: AsyncTestClient,
    db: Database,
    settings: Settings,
    form: dict[str, object],
    message: str,
) -> None:
    await sign_in_admin(backoffice_client, db, settings)
    answer = await submit(backoffice_client, "/webhooks/new", "/webhooks", {**form, "enabled": "on"})
    assert answer.status_code == 400
    assert message in answer.text
    assert 'class="webhook-secret"' not in answer.text
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Endpoint)) == 0
        assert (
            await session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action.startswith("webhooks."))
            )
            == 0
        )


async def test_rotating_the_secret_signs_the_next_attempt_with_the_new_one(
    backoffice_client: AsyncTestClient, portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    box = SecretsBox.from_settings(settings)
    await sign_in_admin(backoffice_client, db, settings)
    with running_receiver(fail_first=False) as receiver:
        endpoint_id, old = await register_endpoint(backoffice_client, receiver.url, ["client.registered"])
        rotated = await submit(
            backoffice_client, f"/webhooks/{endpoint_id}", f"/webhooks/{endpoint_id}/rotate", {}
        )
        assert rotated.status_code == 200
        assert rotated.headers["cache-control"] == "no-store"
        match = SECRET.search(rotated.text)
        assert match
        new = match.group(1)
        log_watch.remember(new, what="a webhook endpoint's signing secret")
        assert new != old
        receiver.secret = old
        await register_client(portal_client)
        assert (await deliver_due(db, box)).retrying == 1
        assert receiver.hits[-1].answered == 401  # the old secret no longer verifies
        receiver.secret = new
        assert (await deliver_due(db, box, now=clock.utcnow() + timedelta(hours=1))).delivered == 1
    async with db.session() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "webhooks.secret_rotated")
            )
            == 1
        )


async def test_pages_in_chinese_and_unknown_ids_are_404(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await sign_in_admin(backoffice_client, db, settings)
    zh = {"Accept-Language": "zh-CN"}
    index = await backoffice_client.get("/webhooks", headers=zh)
    assert index.status_code == 200
    assert "新建端点" in index.text
    new = await backoffice_client.get("/webhooks/new", headers=zh)
    assert "入金完成" in new.text
    assert "保存端点" in new.text
    assert (await backoffice_client.get("/webhooks/999999")).status_code == 404
    assert (await backoffice_client.get("/webhooks/999999/deliveries")).status_code == 404
    endpoint_id, _ = await register_endpoint(
        backoffice_client, "https://hooks.example.test/a", ["kyc.approved"]
    )
    missing = await submit(
        backoffice_client,
        f"/webhooks/{endpoint_id}/deliveries",
        f"/webhooks/{endpoint_id}/deliveries/424242/replay",
        {},
    )
    assert missing.status_code == 404


async def test_the_json_api_lists_endpoints_without_secrets_shows_the_log_and_replays(
    backoffice_client: AsyncTestClient,
    portal_client: AsyncTestClient,
    db: Database,
    settings: Settings,
    sent_jobs: list[jobs.Job],
) -> None:
    box = SecretsBox.from_settings(settings)
    await sign_in_admin(backoffice_client, db, settings)
    with running_receiver(fail_first=True) as receiver:
        endpoint_id, receiver.secret = await register_endpoint(
            backoffice_client, receiver.url, ["client.registered"]
        )
        await register_client(portal_client)
        await deliver_due(db, box, POLICY)
    listed = await backoffice_client.get("/api/v1/webhooks/endpoints")
    assert listed.status_code == 200
    [endpoint] = listed.json()
    assert (endpoint["id"], endpoint["url"], endpoint["kinds"], endpoint["enabled"]) == (
        endpoint_id,
        receiver.url,
        ["client.registered"],
        True,
    )
    assert receiver.secret not in listed.text
    assert "secret_sealed" not in listed.text

    log = await backoffice_client.get(f"/api/v1/webhooks/endpoints/{endpoint_id}/deliveries")
    assert log.status_code == 200
    [line] = log.json()
    assert (line["status"], line["attempts"], line["last_status_code"], line["event_kind"]) == (
        "pending",
        1,
        500,
        "client.registered",
    )
    assert line["event_id"] == receiver.hits[0].event_id
    assert (
        await backoffice_client.get(f"/api/v1/webhooks/endpoints/{endpoint_id}/deliveries?status=delivered")
    ).json() == []
    bad = await backoffice_client.get(f"/api/v1/webhooks/endpoints/{endpoint_id}/deliveries?status=lost")
    assert bad.status_code == 400
    assert (await backoffice_client.get("/api/v1/webhooks/endpoints/424242/deliveries")).status_code == 404

    token = csrf_from((await backoffice_client.get("/webhooks")).text)
    sent_jobs.clear()
    replayed = await backoffice_client.post(
        f"/api/v1/webhooks/endpoints/{endpoint_id}/deliveries/{line['id']}/replay",
        headers={"x-csrftoken": token},
    )
    assert replayed.status_code == 202, replayed.text
    assert (replayed.json()["status"], replayed.json()["event_id"]) == ("pending", line["event_id"])
    assert sent_jobs == [jobs.Job(SEND_ACTOR, (line["id"],), {})]
    missing = await backoffice_client.post(
        f"/api/v1/webhooks/endpoints/{endpoint_id}/deliveries/424242/replay", headers={"x-csrftoken": token}
    )
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No such delivery for this endpoint."


async def test_a_secret_that_no_longer_opens_fails_its_attempts_with_a_message_not_the_sweep(
    backoffice_client: AsyncTestClient, portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await sign_in_admin(backoffice_client, db, settings)
    with running_receiver(fail_first=False) as receiver:
        endpoint_id, receiver.secret = await register_endpoint(
            backoffice_client, receiver.url, ["client.registered"]
        )
        await register_client(portal_client)
        other_key = SecretsBox(b"x" * 32)  # as if the storage key had been changed
        result = await deliver_due(db, other_key, POLICY)
        assert result.retrying == 1
        assert receiver.hits == []  # nothing unsigned ever leaves
    [delivery] = await deliveries(db, endpoint_id)
    assert (delivery.status, delivery.last_status_code) == ("pending", None)
    assert "rotate the secret" in delivery.last_error
