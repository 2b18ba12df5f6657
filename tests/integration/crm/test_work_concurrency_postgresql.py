"""Real parallel transactions on PostgreSQL: overdue reminders and lead captures run many times at
once, and two staff convert the same lead at the same moment. SQLite has one writer at a time, so
these races can't happen there; the module runs on the PostgreSQL pass of the suite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from backoffice.crm_work import CRM_MAILER
from core import clock
from core.audit.service import SYSTEM
from core.db import Database
from core.identity.models import CLIENT, User
from core.mail.outbox import queue_mail
from core.settings import Settings
from crm.leads import capture_unfinished_registrations, convert_lead
from crm.scope import data_scope_of
from crm.tasks import remind_overdue_tasks
from crm.work_errors import LeadTransitionError
from crm.work_models import Lead, Task
from tests.conftest import BACKEND
from tests.helpers import make_client, make_staff
from tests.integration.crm.work_helpers import count, mails

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgresql", reason="real parallel connections need PostgreSQL"),
    pytest.mark.postgres_only,
]


@pytest.fixture
async def wide_db(database_url: str) -> AsyncIterator[Database]:
    database = Database.from_url(database_url, pool_size=12)
    yield database
    await database.dispose()


async def test_parallel_reminder_runs_mail_each_task_once(wide_db: Database, settings: Settings) -> None:
    db = wide_db
    staff, _ = await make_staff(db, settings, "busy@staff.test", ["support"])
    client = await make_client(db, settings, "c@client.test")
    past = clock.utcnow().date() - timedelta(days=1)
    async with db.transaction() as session:
        for n in range(30):
            session.add(Task(client_id=client, title=f"task {n}", due_on=past, assignee_id=staff))

    async def run() -> int:
        now = clock.utcnow()
        async with db.transaction() as session:
            return await remind_overdue_tasks(
                session, now.date(), now, "http://bo.test", queue_mail=queue_mail
            )

    mailed = await asyncio.gather(*(run() for _ in range(8)))
    assert sum(mailed) == 30
    sent = await mails(db, "crm_task_overdue")
    assert sorted(m.subject for m in sent) == sorted(f"Overdue task: task {n}" for n in range(30))


async def test_parallel_captures_make_one_lead_per_client(wide_db: Database, settings: Settings) -> None:
    db = wide_db
    ids = [await make_client(db, settings, f"r{n}@client.test") for n in range(10)]
    async with db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id.in_(ids))
            .values(email_verified_at=None, created_at=clock.utcnow() - timedelta(days=10))
        )

    async def run() -> None:
        async with db.transaction() as session:
            await capture_unfinished_registrations(session, clock.utcnow(), actor=SYSTEM)

    outcomes = await asyncio.gather(*(run() for _ in range(4)), return_exceptions=True)
    # a run that lost the race for a client's unique lead fails as a whole (the actor retries it)
    assert all(o is None or isinstance(o, DBAPIError) for o in outcomes)
    assert any(o is None for o in outcomes)
    await run()  # the retry finds nothing left to do
    assert await count(db, Lead) == 10


async def test_two_staff_converting_one_lead_make_one_client(wide_db: Database, settings: Settings) -> None:
    db = wide_db
    first, _ = await make_staff(db, settings, "one@staff.test", ["support"])
    second, _ = await make_staff(db, settings, "two@staff.test", ["support"])
    async with db.transaction() as session:
        session.add(Lead(email="race@lead.test", source="manual", status="qualified", owner_id=first))
        await session.flush()

    async with db.session() as session:
        lead_id = await session.scalar(select(Lead.id))
    assert lead_id is not None

    async def convert(staff_id: int) -> object:
        async with db.transaction() as session:
            scope = await data_scope_of(session, staff_id)
            return await convert_lead(session, settings, CRM_MAILER, SYSTEM, scope, lead_id)

    outcomes = await asyncio.gather(convert(first), convert(second), return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(refused) == 1
    assert isinstance(refused[0], LeadTransitionError)
    assert await count(db, User, User.kind == CLIENT) == 1
    assert len(await mails(db, "crm_invitation")) == 1
