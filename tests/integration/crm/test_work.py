"""Notes and tasks on clients and leads over HTTP (htmx fragment and plain pages), "My tasks",
and the overdue reminders, mailed once per task however often the job runs."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from core import clock
from core.db import Database
from core.identity.models import User
from core.settings import Settings
from crm.work_models import Lead, Note, Task
from tests.helpers import csrf_from, make_client, submit
from tests.integration.crm.work_helpers import audit_actions, count, mails, staff_client
from tests.worker_actors import actors_on_a_fresh_broker
from workers import runtime
from workers.scheduler import SCHEDULES

HX = {"HX-Request": "true"}


def day(offset: int) -> str:
    return (clock.utcnow().date() + timedelta(days=offset)).isoformat()


async def test_client_notes_and_tasks_as_fragment_and_page(settings: Settings, db: Database) -> None:
    client = await make_client(db, settings, "worked@client.test")
    base = f"/clients/{client}/work"
    async with staff_client(settings, db, "agent@staff.test", ["support"]) as (agent, agent_id):
        fragment = await agent.get(base, headers=HX)
        assert fragment.status_code == 200
        assert fragment.text.lstrip().startswith('<section id="crm-work"')
        assert "<html" not in fragment.text
        assert fragment.headers["vary"] == "HX-Request"
        page = await agent.get(base)
        assert page.status_code == 200
        assert "<html" in page.text
        assert 'id="crm-work"' in page.text
        assert (await agent.get("/clients/999999/work")).status_code == 404

        token = csrf_from(page.text)
        # bad input: 400 naming the field on a plain post; the fragment with the message for htmx
        for data, message in (
            ({"body": "   "}, "note: write something"),
            ({"body": "x" * 5001}, "note: at most 5000 characters"),
        ):
            refused = await agent.post(
                f"{base}/notes", data={**data, "_csrf_token": token}, follow_redirects=False
            )
            assert refused.status_code == 400
            assert message in refused.text
        shown = await agent.post(f"{base}/notes", data={"body": "", "_csrf_token": token}, headers=HX)
        assert shown.status_code == 200
        assert "note: write something" in shown.text
        for data, message in (
            ({"title": "", "due_on": day(1), "assignee_id": agent_id}, "title: say what is to be done"),
            (
                {"title": "Call", "due_on": "tomorrow", "assignee_id": agent_id},
                "due date: enter a day as YYYY-MM-DD",
            ),
            (
                {"title": "Call", "due_on": day(-1), "assignee_id": agent_id},
                "due date: choose today or a later day",
            ),
            (
                {"title": "Call", "due_on": day(1), "assignee_id": client},
                "assignee: choose an active staff member",
            ),
            ({"title": "Call", "due_on": day(1), "assignee_id": agent_id, "priority": "urgent"}, "priority:"),
        ):
            refused = await agent.post(
                f"{base}/tasks", data={**data, "_csrf_token": token}, follow_redirects=False
            )
            assert refused.status_code == 400, data
            assert message in html.unescape(refused.text)
        assert await count(db, Note) == 0
        assert await count(db, Task) == 0

        added = await agent.post(
            f"{base}/notes",
            data={"body": "Prefers <b>calls</b> in the morning", "_csrf_token": token},
            headers=HX,
        )
        assert added.status_code == 200
        assert "Prefers &lt;b&gt;calls&lt;/b&gt; in the morning" in added.text
        plain = await agent.post(
            f"{base}/notes", data={"body": "Second note", "_csrf_token": token}, follow_redirects=False
        )
        assert plain.status_code == 303
        assert plain.headers["location"] == base
        async with db.session() as session:
            first, second = list(await session.scalars(select(Note).order_by(Note.id)))
        assert (first.client_id, first.lead_id, first.author_id, first.pinned) == (
            client,
            None,
            agent_id,
            False,
        )
        pinned = await agent.post(
            f"{base}/notes/{first.id}/pin", data={"pinned": "1", "_csrf_token": token}, headers=HX
        )
        assert pinned.status_code == 200
        assert re.findall(r'data-note="(\d+)"', pinned.text) == [str(first.id), str(second.id)]

        task = await agent.post(
            f"{base}/tasks",
            data={
                "title": "Send the KYC reminder",
                "due_on": day(2),
                "assignee_id": agent_id,
                "priority": "high",
                "_csrf_token": token,
            },
            headers=HX,
        )
        assert task.status_code == 200, task.text[-800:]
        assert "Send the KYC reminder" in task.text
        async with db.session() as session:
            (row,) = list(await session.scalars(select(Task)))
        assert (row.client_id, row.assignee_id, row.priority, row.status) == (
            client,
            agent_id,
            "high",
            "open",
        )
        done = await agent.post(
            f"{base}/tasks/{row.id}/status",
            data={"status": "done", "_csrf_token": token},
            follow_redirects=False,
        )
        assert done.status_code == 303
        # a note or task of another client is not reachable through this client's address
        other = await make_client(db, settings, "other@client.test")
        wrong = await agent.post(
            f"/clients/{other}/work/notes/{first.id}/pin", data={"pinned": "0", "_csrf_token": token}
        )
        assert wrong.status_code == 404

    async with db.session() as session:
        task_row = await session.get(Task, row.id)
        note_row = await session.get(Note, first.id)
    assert task_row is not None
    assert note_row is not None
    assert task_row.status == "done"
    assert task_row.done_at is not None
    assert note_row.pinned is True
    actions = [(e.action, e.target_type, e.target_id) for e in await audit_actions(db)]
    assert actions == [
        ("crm.note_added", "client", str(client)),
        ("crm.note_added", "client", str(client)),
        ("crm.note_pinned", "client", str(client)),
        ("crm.task_added", "client", str(client)),
        ("crm.task_done", "client", str(client)),
    ]

    # clients.read alone sees the notes and tasks but gets no forms, and may not write
    async with staff_client(settings, db, "viewer@staff.test", ["read_only"]) as (viewer, _id):
        seen = await viewer.get(base, headers=HX)
        assert seen.status_code == 200
        assert "Prefers &lt;b&gt;calls" in seen.text
        assert "Add note" not in seen.text
        token = csrf_from((await viewer.get(base)).text)
        refused = await viewer.post(f"{base}/notes", data={"body": "x", "_csrf_token": token})
        assert refused.status_code == 403
    assert await count(db, Note) == 2


async def test_lead_notes_and_tasks(settings: Settings, db: Database) -> None:
    async with db.transaction() as session:
        session.add(Lead(email="lead@work.test", name="Lee", source="manual", status="new"))
    async with db.session() as session:
        lead = await session.scalar(select(Lead))
    assert lead is not None
    base = f"/leads/{lead.id}/work"
    async with staff_client(settings, db, "seller@staff.test", ["support"]) as (seller, seller_id):
        lead_page = await seller.get(f"/leads/{lead.id}")
        assert 'id="crm-work"' in lead_page.text
        note = await submit(
            seller, f"/leads/{lead.id}", f"{base}/notes", {"body": "Met at the expo", "pinned": "1"}
        )
        assert note.status_code == 303
        task = await submit(
            seller, base, f"{base}/tasks", {"title": "Follow up", "due_on": day(0), "assignee_id": seller_id}
        )
        assert task.status_code == 303
        page = await seller.get(f"/leads/{lead.id}")
        assert "Met at the expo" in page.text
        assert "Follow up" in page.text
        mine = await seller.get("/tasks")
        assert "Lead: Lee &lt;lead@work.test&gt;" in mine.text
        assert f'href="{base}"' in mine.text
    async with db.session() as session:
        (note_row,) = list(await session.scalars(select(Note)))
        (task_row,) = list(await session.scalars(select(Task)))
    assert (note_row.lead_id, note_row.client_id, note_row.pinned) == (lead.id, None, True)
    assert (task_row.lead_id, task_row.due_on.isoformat(), task_row.priority) == (lead.id, day(0), "normal")


async def make_task(
    db: Database, assignee: int, client: int, title: str, due_offset: int, **extra: Any
) -> int:
    async with db.transaction() as session:
        task = Task(
            client_id=client,
            title=title,
            due_on=clock.utcnow().date() + timedelta(days=due_offset),
            assignee_id=assignee,
            priority=extra.pop("priority", "normal"),
            status=extra.pop("status", "open"),
            **extra,
        )
        session.add(task)
        await session.flush()
        return task.id


async def test_my_tasks_overdue_first_with_filters(settings: Settings, db: Database) -> None:
    client = await make_client(db, settings, "tasks@client.test")
    async with staff_client(settings, db, "me@staff.test", ["support"]) as (me, me_id):
        other_id = await staff_client_id(db, settings, "someone@staff.test")
        later = await make_task(db, me_id, client, "later", 5)
        soon_low = await make_task(db, me_id, client, "soon low", 1, priority="low")
        soon_high = await make_task(db, me_id, client, "soon high", 1, priority="high")
        late = await make_task(db, me_id, client, "late", -1)
        very_late = await make_task(db, me_id, client, "very late", -10)
        finished = await make_task(db, me_id, client, "finished", -3, status="done")
        await make_task(db, other_id, client, "not mine", -5)

        page = await me.get("/tasks")
        assert page.status_code == 200
        order = [int(i) for i in re.findall(r'class="my-task[^"]*" data-task="(\d+)"', page.text)]
        assert order == [very_late, late, soon_high, soon_low, later]
        assert "2 tasks are overdue." in page.text
        done = await me.get("/tasks?show=done")
        assert [int(i) for i in re.findall(r'data-task="(\d+)"', done.text)] == [finished]
        everything = await me.get("/tasks?show=all")
        assert len(re.findall(r'class="my-task[ "]', everything.text)) == 6
        assert (await me.get("/tasks?show=bogus")).status_code == 200

        marked = await submit(
            me,
            "/tasks",
            f"/clients/{client}/work/tasks/{late}/status",
            {"status": "done", "next": "/tasks?show=open"},
        )
        assert marked.status_code == 303
        assert marked.headers["location"] == "/tasks?show=open"
        assert int(later) in [int(i) for i in re.findall(r'data-task="(\d+)"', (await me.get("/tasks")).text)]
        assert late not in [int(i) for i in re.findall(r'data-task="(\d+)"', (await me.get("/tasks")).text)]
        # an outside address in "next" is ignored
        sneaky = await submit(
            me,
            "/tasks",
            f"/clients/{client}/work/tasks/{late}/status",
            {"status": "open", "next": "https://evil.test/"},
        )
        assert sneaky.headers["location"] == f"/clients/{client}/work"


async def staff_client_id(db: Database, settings: Settings, email: str) -> int:
    from tests.helpers import make_staff

    staff_id, _secret = await make_staff(db, settings, email, ["support"])
    return staff_id


@pytest.fixture
def actors(settings: Settings, db: Database) -> Iterator[Any]:
    module = actors_on_a_fresh_broker()
    previous = runtime._runtime
    runtime.install(runtime.WorkerRuntime(settings=settings, database=db))
    yield module
    runtime._runtime = previous


async def test_overdue_reminders_are_mailed_once(settings: Settings, db: Database, actors: Any) -> None:
    from tests.helpers import make_staff

    client = await make_client(db, settings, "reminded@client.test")
    english, _ = await make_staff(db, settings, "en@staff.test", ["support"])
    chinese, _ = await make_staff(db, settings, "zh@staff.test", ["support"])
    gone, _ = await make_staff(db, settings, "gone@staff.test", ["support"])
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == chinese).values(language="zh_Hans"))
        await session.execute(update(User).where(User.id == gone).values(is_active=False))
    await make_task(db, english, client, "Call back about the wire", -2, priority="high")
    await make_task(db, english, client, "Check the documents", -1)
    await make_task(db, chinese, client, "回电", -3)
    await make_task(db, english, client, "Due today", 0)
    await make_task(db, english, client, "Closed", -4, status="done")
    await make_task(db, gone, client, "Nobody to tell", -1)

    for _run in range(3):  # the scheduled run, a rerun and a redelivery
        await actors.remind_overdue_tasks.fn.__wrapped__()
    sent = await mails(db, "crm_task_overdue")
    assert sorted((m.to_address, m.subject) for m in sent) == [
        ("en@staff.test", "Overdue task: Call back about the wire"),
        ("en@staff.test", "Overdue task: Check the documents"),
        ("zh@staff.test", "任务已逾期：回电"),  # noqa: RUF001
    ]
    (wire,) = [m for m in sent if "wire" in m.subject]
    assert "Due on " + day(-2) + " (2 day(s) ago), priority high." in wire.text_body
    assert f"{settings.public_backoffice_url}/tasks" in wire.text_body
    assert "截止日期 " + day(-3) in next(m for m in sent if m.to_address == "zh@staff.test").text_body
    async with db.session() as session:
        reminded = {t.title: t.reminded_at is not None for t in await session.scalars(select(Task))}
    assert reminded == {
        "Call back about the wire": True,
        "Check the documents": True,
        "回电": True,
        "Due today": False,
        "Closed": False,
        "Nobody to tell": True,
    }


async def test_capture_actor_runs_and_both_jobs_are_scheduled(
    settings: Settings, db: Database, actors: Any
) -> None:
    client = await make_client(db, settings, "late@client.test")
    async with db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == client)
            .values(email_verified_at=None, created_at=clock.utcnow() - timedelta(days=4))
        )
    for _run in range(2):
        await actors.capture_unfinished_registrations.fn.__wrapped__()
    assert await count(db, Lead, Lead.client_id == client, Lead.source == "registration") == 1
    names = {s.actor_name: s.every_seconds for s in SCHEDULES}
    assert names["crm.capture_unfinished_registrations"] == 3600.0
    assert names["crm.remind_overdue_tasks"] == 3600.0


async def test_pages_in_chinese(settings: Settings, db: Database) -> None:
    client = await make_client(db, settings, "zh@client.test")
    async with db.transaction() as session:
        session.add(
            Lead(email="zh@lead.test", source="registration", status="new", registration_stage="no_deposit")
        )
    async with staff_client(settings, db, "zh@staff.test", ["support"]) as (staff, staff_id):
        switched = await submit(staff, "/tasks", "/language", {"language": "zh_Hans", "next": "/tasks"})
        assert switched.status_code in {302, 303}
        await make_task(db, staff_id, client, "回访", -1)
        tasks_page = html.unescape((await staff.get("/tasks")).text)
        assert "我的任务" in tasks_page
        assert "1 项任务已逾期。" in tasks_page
        assert "已逾期" in tasks_page
        leads_page = html.unescape((await staff.get("/leads")).text)
        assert "新建潜在客户" in leads_page
        assert "未完成注册 · 未入金" in leads_page
        assert "1 个潜在客户" in leads_page
        work = html.unescape((await staff.get(f"/clients/{client}/work", headers=HX)).text)
        assert "添加备注" in work
        assert "截止日期" in work
