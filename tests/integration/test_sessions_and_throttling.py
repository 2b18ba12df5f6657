"""Sessions, CSRF, rate limits and lockouts over HTTP on the real portal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from litestar.stores.memory import MemoryStore
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from core import clock
from core.audit.models import AuditEvent
from core.db import Database
from core.identity.models import LoginSession
from core.settings import Settings
from tests.apps import backoffice_app, portal_app
from tests.helpers import STRONG_PASSWORD, client_sign_in, latest_mail, make_client, submit

pytestmark = pytest.mark.asyncio

EMAIL = "grace@example.test"
COOKIE = "bd_portal_session"


def portal(settings: Settings, db: Database) -> AsyncTestClient:
    return AsyncTestClient(app=portal_app(settings, db))


@pytest.fixture
async def second_browser(
    settings: Settings, db: Database, portal_client: AsyncTestClient
) -> AsyncIterator[AsyncTestClient]:
    """Another browser on the same app (same in-memory session store)."""
    async with AsyncTestClient(app=portal_client.app) as client:
        yield client


async def test_missing_csrf_token_is_refused(
    portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await make_client(db, settings, EMAIL)
    await portal_client.get("/login")
    response = await portal_client.post(
        "/login", data={"email": EMAIL, "password": STRONG_PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "CSRF" in response.text
    async with db.session() as session:
        assert list(await session.scalars(select(LoginSession))) == []
        assert list(await session.scalars(select(AuditEvent))) == []


async def test_fixated_session_id_is_never_adopted(
    portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await make_client(db, settings, EMAIL)
    planted = "a" * 64
    portal_client.cookies.set(COOKIE, planted, domain="testserver.local")
    page = await portal_client.get("/login")
    assert page.status_code == 200
    assert portal_client.cookies.get(COOKIE) != planted  # an id the server never issued is replaced
    before_login = portal_client.cookies.get(COOKIE)
    assert before_login

    response = await client_sign_in(portal_client, EMAIL)
    assert response.status_code == 303
    after_login = portal_client.cookies.get(COOKIE)
    assert after_login
    assert after_login not in (planted, before_login)

    async with AsyncTestClient(app=portal_client.app) as attacker:
        for stolen in (planted, before_login):
            attacker.cookies.set(COOKIE, stolen, domain="testserver.local")
            answer = await attacker.get("/account", follow_redirects=False)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/login")
    assert (await portal_client.get("/account")).status_code == 200


async def test_cookie_flags(db: Database, settings: Settings) -> None:
    async with portal(settings, db) as client:
        response = await client.get("/login")
        cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith(COOKIE))
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Secure" not in cookie
    async with portal(replace(settings, env="production"), db) as client:
        response = await client.get("/login")
        cookies = response.headers.get_list("set-cookie")
        session_cookie = next(v for v in cookies if v.startswith(COOKIE))
        assert "Secure" in session_cookie
        assert "HttpOnly" in session_cookie
        assert "SameSite=lax" in session_cookie
        csrf_cookie = next(v for v in cookies if v.startswith("bd_portal_csrf"))
        assert "Secure" in csrf_cookie


class CountingStore(MemoryStore):
    """The in-memory session store, counting the writes the app makes to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        self.writes += 1
        await super().set(key, value, expires_in)


async def test_a_page_that_leaves_the_session_as_it_was_writes_nothing_back(
    portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    store = CountingStore()
    portal_client.app.stores.register("sessions", store, allow_override=True)
    await make_client(db, settings, EMAIL)
    assert (await client_sign_in(portal_client, EMAIL)).status_code == 303
    session_id = portal_client.cookies.get(COOKIE)
    assert session_id
    stored = await store.get(session_id)
    assert stored is not None
    await store.set(session_id, stored, expires_in=60)  # as if the last page was long ago
    writes = store.writes

    for path in ("/", "/account", "/trading"):
        page = await portal_client.get(path)
        assert page.status_code == 200, path
        cookie = next(v for v in page.headers.get_list("set-cookie") if v.startswith(COOKIE))
        assert f"{COOKIE}={session_id}" in cookie  # the browser's cookie is renewed on every page
        assert "HttpOnly" in cookie
    assert store.writes == writes  # nothing written back: the session was as loaded
    assert await store.get(session_id) == stored
    expires_in = await store.expires_in(session_id)
    assert expires_in is not None
    assert expires_in > settings.session_idle_minutes * 60 - 10  # reading it renewed its expiry

    answer = await submit(portal_client, "/account", "/logout", {})
    assert answer.status_code == 303
    assert await store.get(session_id) is None  # signing out deletes it
    again = await portal_client.get("/account", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")


async def test_list_and_revoke_own_sessions(
    portal_client: AsyncTestClient, second_browser: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await make_client(db, settings, EMAIL)
    other_id = await make_client(db, settings, "other@example.test")
    assert (await client_sign_in(portal_client, EMAIL)).status_code == 303
    assert (await client_sign_in(second_browser, EMAIL)).status_code == 303
    page = await portal_client.get("/account")
    assert page.text.count('class="session-row"') == 2
    async with db.session() as session:
        rows = list(await session.scalars(select(LoginSession).order_by(LoginSession.created_at)))
    second_id = rows[1].id

    # another user's session id changes nothing
    async with db.transaction() as session:
        foreign = LoginSession(
            id="f" * 32,
            user_id=other_id,
            app="portal",
            ip="",
            user_agent="",
            created_at=clock.utcnow(),
            last_seen_at=clock.utcnow(),
        )
        session.add(foreign)
    await submit(portal_client, "/account", "/account/sessions/revoke", {"session_id": "f" * 32})
    async with db.session() as session:
        assert (await session.get_one(LoginSession, "f" * 32)).revoked_at is None

    revoked = await submit(portal_client, "/account", "/account/sessions/revoke", {"session_id": second_id})
    assert revoked.status_code == 303
    kicked = await second_browser.get("/account", follow_redirects=False)
    assert kicked.status_code == 303
    assert kicked.headers["location"].startswith("/login")
    assert (await portal_client.get("/account")).text.count('class="session-row"') == 1


async def test_password_change_signs_out_other_sessions(
    portal_client: AsyncTestClient, second_browser: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await make_client(db, settings, EMAIL)
    await client_sign_in(portal_client, EMAIL)
    await client_sign_in(second_browser, EMAIL)
    wrong = await submit(
        portal_client,
        "/account",
        "/account/password",
        {"current_password": "not-it-at-all", "new_password": "Fresh-Harbour-88"},
    )
    assert wrong.status_code == 400
    assert "current password is not correct" in wrong.text
    assert (await second_browser.get("/account")).status_code == 200

    done = await submit(
        portal_client,
        "/account",
        "/account/password",
        {"current_password": STRONG_PASSWORD, "new_password": "Fresh-Harbour-88"},
    )
    assert done.status_code == 303
    assert (await portal_client.get("/account")).status_code == 200
    kicked = await second_browser.get("/account", follow_redirects=False)
    assert kicked.status_code == 303
    notice = await latest_mail(db, EMAIL)
    assert notice.template == "security_notice"
    assert "changed" in notice.text_body
    async with db.session() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "security.password_changed")
        )
    assert event is not None
    assert event.after == {"password": "***"}
    assert (await client_sign_in(second_browser, EMAIL, "Fresh-Harbour-88")).status_code == 303


@pytest.mark.parametrize("column", ["last_seen_at", "created_at"])
async def test_idle_and_absolute_expiry(
    portal_client: AsyncTestClient, db: Database, settings: Settings, column: str
) -> None:
    await make_client(db, settings, EMAIL)
    await client_sign_in(portal_client, EMAIL)
    assert (await portal_client.get("/account")).status_code == 200
    past = {
        "last_seen_at": clock.utcnow() - timedelta(minutes=settings.session_idle_minutes + 1),
        "created_at": clock.utcnow() - timedelta(hours=settings.session_absolute_hours, minutes=1),
    }[column]
    async with db.transaction() as session:
        await session.execute(update(LoginSession).values({column: past}))
    expired = await portal_client.get("/account", follow_redirects=False)
    assert expired.status_code == 303
    assert expired.headers["location"].startswith("/login")
    async with db.session() as session:
        assert (await session.scalar(select(LoginSession))).revoked_at is not None  # type: ignore[union-attr]


async def test_lockout_after_repeated_failures(
    portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await make_client(db, settings, EMAIL)
    statuses = [
        (await client_sign_in(portal_client, EMAIL, f"Wrong-guess-{n}x")).status_code for n in range(5)
    ]
    assert statuses == [400, 400, 400, 400, 429]
    locked = await client_sign_in(portal_client, EMAIL)  # even the right password
    assert locked.status_code == 429
    assert "locked for 15 minutes" in locked.text
    # an unknown email locks the same way, so the lockout reveals nothing
    ghost = [
        (await client_sign_in(portal_client, "ghost@example.test", "Wrong-guess-1x")).status_code
        for _ in range(5)
    ]
    assert ghost == [400, 400, 400, 400, 429]
    async with db.session() as session:
        assert list(await session.scalars(select(LoginSession))) == []


async def test_ip_throttling_on_registration_login_and_reset(db: Database, settings: Settings) -> None:
    tight = replace(settings, ip_attempts_per_window=3)
    async with portal(tight, db) as client:
        codes = []
        for n in range(4):
            response = await submit(
                client,
                "/register",
                "/register",
                {"email": f"user{n}@example.test", "password": STRONG_PASSWORD},
            )
            codes.append(response.status_code)
        assert codes == [200, 200, 200, 429]
        assert "Too many attempts from your network" in response.text
        logins = [(await client_sign_in(client, f"user{n}@example.test")).status_code for n in range(4)]
        assert logins[-1] == 429
        resets = [
            (
                await submit(
                    client, "/forgot-password", "/forgot-password", {"email": f"user{n}@example.test"}
                )
            ).status_code
            for n in range(4)
        ]
        assert resets == [200, 200, 200, 429]


async def test_reset_mails_per_account_are_limited(
    portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await make_client(db, settings, EMAIL)
    codes = [
        (await submit(portal_client, "/forgot-password", "/forgot-password", {"email": EMAIL})).status_code
        for _ in range(settings.login_max_failures + 1)
    ]
    assert codes[-1] == 429
    assert set(codes[:-1]) == {200}


@pytest.mark.redis
async def test_redis_backs_sessions_and_limits_across_processes(
    db: Database, settings: Settings, redis_url: str, redis_namespace: str
) -> None:
    """Two app instances on one Redis share sessions and lockouts, as two processes would."""
    from redis.asyncio import Redis

    shared = replace(settings, redis_url=redis_url, redis_prefix=redis_namespace)
    email = f"{redis_namespace.replace(':', '-')}@example.test"
    await make_client(db, settings, email)
    async with portal(shared, db) as first, portal(shared, db) as second:
        for n in range(4):
            assert (await client_sign_in(first, email, f"Wrong-guess-{n}x")).status_code == 400
        fifth = await client_sign_in(second, email, "Wrong-guess-5x")  # the other process counts on
        assert fifth.status_code == 429
        assert (await client_sign_in(first, email)).status_code == 429  # the lock is seen by both

    other = f"{redis_namespace.replace(':', '-')}-2@example.test"
    await make_client(db, settings, other)
    async with portal(shared, db) as first, portal(shared, db) as second:
        assert (await client_sign_in(first, other)).status_code == 303
        second.cookies.set(COOKIE, first.cookies.get(COOKIE) or "", domain="testserver.local")
        assert (await second.get("/account")).status_code == 200  # the session lives in Redis
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(f"{redis_namespace}:*")]
        assert any(b":portal:sessions" in key for key in keys)
        assert any(b":portal:ratelimit" in key for key in keys)
        await client.delete(*keys)
    finally:
        await client.aclose()


async def test_metrics_need_the_token_when_configured(db: Database, settings: Settings) -> None:
    guarded = replace(settings, metrics_token="scrape-me-please")
    async with AsyncTestClient(app=backoffice_app(guarded, db)) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await client.get("/metrics", headers={"authorization": "Bearer scrape-me-please"})
        assert right.status_code == 200
        assert "brokerdesk_requests_total" in right.text
    async with portal(replace(settings, env="production"), db) as client:
        assert (await client.get("/metrics")).status_code == 404  # production without a token: off
