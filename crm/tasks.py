"""Tasks on clients and leads: a title, a due day, an assignee, a priority, open or done; the
"my tasks" list with overdue tasks first, and the overdue reminders mailed once per task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.audit.service import Actor, record_audit
from core.identity.models import STAFF, User
from crm.mailing import MailQueue
from crm.scope import DataScope
from crm.work_errors import WorkItemError, WorkItemNotFoundError
from crm.work_models import Lead, Task
from crm.work_targets import Target, require_target

MAX_TITLE_LENGTH = 300
OVERDUE_MAIL = "crm_task_overdue"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class TaskPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


PRIORITY_RANK = {TaskPriority.HIGH.value: 0, TaskPriority.NORMAL.value: 1, TaskPriority.LOW.value: 2}


def parse_due_on(raw: str, today: date) -> date:
    try:
        due = date.fromisoformat(raw.strip())
    except ValueError:
        raise WorkItemError("due date: enter a day as YYYY-MM-DD") from None
    if due < today:
        raise WorkItemError("due date: choose today or a later day")
    return due


async def _require_assignee(session: AsyncSession, raw: str | int) -> User:
    text = str(raw).strip()
    if not text.isdigit():
        raise WorkItemError("assignee: choose a staff member")
    user = await session.get(User, int(text))
    if user is None or user.kind != STAFF or not user.is_active:
        raise WorkItemError("assignee: choose an active staff member")
    return user


def task_snapshot(task: Task) -> dict[str, object]:
    return {
        "task_id": task.id,
        "title": task.title,
        "due_on": task.due_on.isoformat(),
        "assignee_id": task.assignee_id,
        "priority": task.priority,
        "status": task.status,
    }


async def add_task(
    session: AsyncSession,
    actor: Actor,
    scope: DataScope,
    target: Target,
    *,
    title: str,
    due_on: str,
    assignee_id: str | int,
    priority: str,
    today: date,
) -> Task:
    """Add a task to the client or lead, for ``assignee_id`` to do by ``due_on``."""
    text = " ".join(title.split())
    if not text:
        raise WorkItemError("title: say what is to be done")
    if len(text) > MAX_TITLE_LENGTH:
        raise WorkItemError(f"title: at most {MAX_TITLE_LENGTH} characters")
    due = parse_due_on(due_on, today)
    try:
        rank = TaskPriority(priority.strip() or TaskPriority.NORMAL)
    except ValueError:
        raise WorkItemError("priority: choose low, normal or high") from None
    assignee = await _require_assignee(session, assignee_id)
    await require_target(session, scope, target)
    task = Task(
        **target.columns(),
        title=text,
        due_on=due,
        assignee_id=assignee.id,
        priority=rank.value,
        status=TaskStatus.OPEN.value,
        created_by=actor.id,
        created_at=clock.utcnow(),
    )
    session.add(task)
    await session.flush()
    await record_audit(
        session,
        actor,
        "crm.task_added",
        target_type=target.kind.value,
        target_id=target.id,
        after=task_snapshot(task),
    )
    return task


async def set_task_status(
    session: AsyncSession, actor: Actor, scope: DataScope, target: Target, task_id: int, status: str
) -> Task:
    """Mark the task done, or open it again."""
    try:
        wanted = TaskStatus(status)
    except ValueError:
        raise WorkItemError("status: choose open or done") from None
    await require_target(session, scope, target)
    task = await session.get(Task, task_id, with_for_update=True)
    if task is None or not target.owns(task):
        raise WorkItemNotFoundError(f"no task #{task_id} on this {target.kind.value}")
    if task.status == wanted:
        return task
    before = task_snapshot(task)
    task.status = wanted.value
    task.done_at = clock.utcnow() if wanted is TaskStatus.DONE else None
    await session.flush()
    await record_audit(
        session,
        actor,
        "crm.task_done" if wanted is TaskStatus.DONE else "crm.task_reopened",
        target_type=target.kind.value,
        target_id=target.id,
        before=before,
        after=task_snapshot(task),
    )
    return task


async def tasks_of(session: AsyncSession, target: Target, limit: int = 200) -> Sequence[Task]:
    """The target's tasks: open ones first, by due day (the caller checked the scope)."""
    return (
        await session.scalars(
            select(Task)
            .where(target.matches(Task))
            .order_by(case((Task.status == TaskStatus.OPEN.value, 0), else_=1), Task.due_on, Task.id)
            .limit(limit)
        )
    ).all()


@dataclass(frozen=True, slots=True)
class MyTask:
    task: Task
    about: str
    """Who the task is about: the client's email or the lead's name and email."""
    overdue: bool

    @property
    def target(self) -> Target:
        if self.task.client_id is not None:
            return Target.client(self.task.client_id)
        assert self.task.lead_id is not None
        return Target.lead(self.task.lead_id)


MY_TASK_FILTERS = ("open", "done", "all")


async def my_tasks(
    session: AsyncSession, staff_id: int, today: date, show: str = "open", limit: int = 500
) -> list[MyTask]:
    """The staff member's tasks: overdue first, then by due day and priority."""
    if show not in MY_TASK_FILTERS:
        raise WorkItemError("show: choose open, done or all")
    overdue = (Task.status == TaskStatus.OPEN.value) & (Task.due_on < today)
    query = (
        select(Task, User.email, Lead.name, Lead.email)
        .outerjoin(User, User.id == Task.client_id)
        .outerjoin(Lead, Lead.id == Task.lead_id)
        .where(Task.assignee_id == staff_id)
    )
    if show != "all":
        query = query.where(Task.status == show)
    priority = case(
        (Task.priority == TaskPriority.HIGH.value, 0),
        (Task.priority == TaskPriority.NORMAL.value, 1),
        else_=2,
    )
    rows = await session.execute(
        query.order_by(case((overdue, 0), else_=1), Task.due_on, priority, Task.id).limit(limit)
    )
    result = []
    for task, client_email, lead_name, lead_email in rows.all():
        about = client_email or (f"{lead_name} <{lead_email}>" if lead_name else lead_email) or ""
        result.append(MyTask(task, about, task.status == TaskStatus.OPEN.value and task.due_on < today))
    return result


async def remind_overdue_tasks(
    session: AsyncSession, today: date, now: datetime, backoffice_url: str, *, queue_mail: MailQueue
) -> int:
    """Mail each assignee once per open task that is past its due day; returns the mails queued.

    The tasks are claimed (``reminded_at`` set, rows locked and skipped by a concurrent run) in the
    transaction that queues the mails, which leave only when it commits, so a rerun or a
    redelivered job mails nobody twice.
    """
    tasks = (
        await session.scalars(
            select(Task)
            .where(Task.status == TaskStatus.OPEN.value, Task.due_on < today, Task.reminded_at.is_(None))
            .order_by(Task.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    mailed = 0
    for task in tasks:
        task.reminded_at = now
        assignee = await session.get(User, task.assignee_id)
        if assignee is None or not assignee.is_active:
            continue
        await queue_mail(
            session,
            assignee.email,
            OVERDUE_MAIL,
            assignee.language,
            {
                "title": task.title,
                "due_on": task.due_on.isoformat(),
                "days": (today - task.due_on).days,
                "priority": task.priority,
                "link": f"{backoffice_url}/tasks",
            },
        )
        mailed += 1
    await session.flush()
    return mailed
