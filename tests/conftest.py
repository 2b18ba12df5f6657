"""Fixtures shared by every test: a fresh migrated database, the real apps and a real Redis.

``BROKERDESK_TEST_DATABASE`` picks the backend (``sqlite`` or ``postgresql``); ``make test`` runs
the whole suite once on each. A service that is down is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from core import jobs
from core.db import Database
from core.settings import Settings
from tests import apps, log_watch
from tests.databases import TestDatabases

BACKEND = os.environ.get("BROKERDESK_TEST_DATABASE", "sqlite")
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def pytest_report_header() -> str:
    return f"BrokerDesk test database: {BACKEND}"


def pytest_configure(config: pytest.Config) -> None:
    log_watch.install()  # for the whole session: see tests/log_watch.py


@pytest.fixture(autouse=True)
def apps_go_back_on_the_shelf() -> Iterator[None]:
    """Set up before, so torn down after, every fixture that holds an app (see tests/apps.py)."""
    yield
    apps.take_back()


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[None]:
    """Fails the test (at teardown, after its other fixtures) when a known secret was logged."""
    start = log_watch.WATCH.mark()
    yield
    leaks = log_watch.WATCH.leaks(since=start)
    log_watch.WATCH.forget(start)  # read: keep the session's memory flat
    if leaks:
        pytest.fail("secrets reached the logs:\n" + "\n".join(leaks), pytrace=False)


async def remember_totp_secrets(database: Database) -> None:
    """Every TOTP secret the test's users got, whichever way they got it."""
    from sqlalchemy import select
    from sqlalchemy.exc import DBAPIError

    from core.identity.models import User

    try:
        async with database.session() as session:
            secrets = await session.scalars(select(User.totp_secret).where(User.totp_secret.is_not(None)))
            log_watch.WATCH.remember(secrets.all(), "a user's TOTP secret")
    except DBAPIError:  # a migration test left no users table behind: no secrets to know
        return


@pytest.fixture(scope="session")
def test_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabases]:
    if BACKEND not in {"sqlite", "postgresql"}:
        raise pytest.UsageError(f"BROKERDESK_TEST_DATABASE must be sqlite or postgresql, not {BACKEND!r}")
    databases = TestDatabases(backend=BACKEND, admin_url=PG_ADMIN_URL, workdir=tmp_path_factory.mktemp("db"))
    try:
        databases.prepare()
    except OSError as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable ({exc}); run `make services`")
    yield databases
    databases.finish()


@pytest.fixture
def database_url(test_databases: TestDatabases) -> Iterator[str]:
    url = test_databases.create()
    yield url
    test_databases.drop(url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The test's database, shared by the test and the apps under test.

    The test client runs the app on an event loop of its own, so connections must not be pooled
    across loops: on PostgreSQL every session opens its connection on the loop that uses it.
    """
    if database_url.startswith("sqlite"):
        database = Database.from_url(database_url)
    else:
        database = Database(create_async_engine(database_url, poolclass=NullPool))
    yield database
    await remember_totp_secrets(database)
    await database.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # argon2id is made cheap for speed here only; production keeps the strong defaults.
    return Settings(
        env="test",
        database_url=database_url,
        secret_key="test-secret-key",
        argon2_time_cost=1,
        argon2_memory_kib=256,
        argon2_parallelism=1,
        storage_dir=str(tmp_path / "files"),  # uploads never land in the working tree
    )


@pytest.fixture
def sent_jobs() -> Iterator[list[jobs.Job]]:
    """Jobs that left the process during the test, in order."""
    sent: list[jobs.Job] = []
    previous = jobs.set_sender(sent.append)
    yield sent
    jobs.set_sender(previous)


@pytest.fixture
async def redis_url() -> str:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({exc}); run `make services`")
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
def redis_namespace() -> str:
    return f"bdtest:{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def portal_client(settings: Settings, db: Database) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=apps.portal_app(settings, db)) as client:
        yield client
        log_watch.remember_cookies(client)


@pytest.fixture
async def backoffice_client(settings: Settings, db: Database) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=apps.backoffice_app(settings, db)) as client:
        yield client
        log_watch.remember_cookies(client)
