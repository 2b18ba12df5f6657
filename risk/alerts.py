"""The alert queue: raising alerts from findings (once each), listing, assigning and resolving them.

Every change writes an audit event with before and after, in the same transaction as the change.
Only staff holding ``risk.manage`` can be assigned an alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core import clock
from core.audit.service import SYSTEM, Actor, record_audit
from core.identity.models import STAFF, RolePermission, StaffRole, User
from risk.errors import AlertNotFoundError, AlertStateError, InvalidAlertInputError
from risk.models import AlertStatus, Resolution, RiskAlert, RiskAlertClient
from risk.rules import RULE_LABELS, Finding

MANAGE_PERMISSION = "risk.manage"
COMMENT_LIMIT = 2000
ASSIGNEE_ANY = ""
ASSIGNEE_ME = "me"
ASSIGNEE_NONE = "none"


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def raise_alerts(session: AsyncSession, findings: Sequence[Finding], now: datetime) -> list[int]:
    """An alert per finding that has none yet; returns the ids of the alerts raised now.

    ``INSERT … ON CONFLICT DO NOTHING`` on ``(rule, subject, dedup_key)``, so two runs at once (a
    redelivered job beside the scheduled one) raise each alert once between them.
    """
    raised = []
    for finding in findings:
        statement = (
            _insert(session)(RiskAlert)
            .values(
                rule=finding.rule,
                subject=finding.subject[:128],
                dedup_key=finding.dedup_key[:128],
                client_id=finding.client_id,
                summary=finding.summary[:300],
                evidence={**finding.evidence, "summary_args": finding.summary_args},
                window_start=finding.window_start,
                window_end=finding.window_end,
                status=AlertStatus.OPEN.value,
                raised_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["rule", "subject", "dedup_key"])
            .returning(RiskAlert.id)
        )
        alert_id = await session.scalar(statement)
        if alert_id is None:
            continue
        session.add_all(
            RiskAlertClient(alert_id=alert_id, client_id=client) for client in set(finding.client_ids)
        )
        await record_audit(
            session,
            SYSTEM,
            "risk.alert_raised",
            target_type="risk_alert",
            target_id=alert_id,
            after={"rule": finding.rule, "subject": finding.subject, "key": finding.dedup_key},
        )
        raised.append(int(alert_id))
    await session.flush()
    return raised


# --- Reading -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFilter:
    """The queue's filters: ``status`` open/resolved ('' for all), a rule id, and an assignee
    (``''`` anyone, ``'me'``, ``'none'`` for unassigned, or a staff id)."""

    status: str = AlertStatus.OPEN.value
    rule: str = ""
    assignee: str = ASSIGNEE_ANY


def _filtered(query: Any, filters: AlertFilter, me_id: int | None) -> Any:
    if filters.status:
        query = query.where(RiskAlert.status == filters.status)
    if filters.rule:
        query = query.where(RiskAlert.rule == filters.rule)
    if filters.assignee == ASSIGNEE_ME:
        query = query.where(RiskAlert.assignee_id == me_id)
    elif filters.assignee == ASSIGNEE_NONE:
        query = query.where(RiskAlert.assignee_id.is_(None))
    elif filters.assignee.isdigit():
        query = query.where(RiskAlert.assignee_id == int(filters.assignee))
    return query


@dataclass(frozen=True)
class AlertRow:
    alert: RiskAlert
    assignee_email: str | None
    client_email: str | None = None

    @property
    def label(self) -> str:
        return RULE_LABELS.get(self.alert.rule, self.alert.rule)


async def list_alerts(
    session: AsyncSession, filters: AlertFilter, *, me_id: int | None, limit: int, offset: int = 0
) -> list[AlertRow]:
    """The queue, oldest open alert first (what has waited longest needs someone first)."""
    assignee, client = aliased(User), aliased(User)
    query = _filtered(
        select(RiskAlert, assignee.email, client.email)
        .outerjoin(assignee, assignee.id == RiskAlert.assignee_id)
        .outerjoin(client, client.id == RiskAlert.client_id),
        filters,
        me_id,
    )
    rows = await session.execute(
        query.order_by(RiskAlert.raised_at, RiskAlert.id).limit(limit).offset(offset)
    )
    return [AlertRow(alert, assignee_email, client_email) for alert, assignee_email, client_email in rows]


async def count_alerts(session: AsyncSession, filters: AlertFilter, *, me_id: int | None) -> int:
    return int(await session.scalar(_filtered(select(func.count(RiskAlert.id)), filters, me_id)) or 0)


@dataclass(frozen=True)
class AlertDetail:
    alert: RiskAlert
    assignee_email: str | None
    resolver_email: str | None
    clients: list[tuple[int, str | None]]
    """(client id, email) of every client the alert names."""

    @property
    def label(self) -> str:
        return RULE_LABELS.get(self.alert.rule, self.alert.rule)


async def _email(session: AsyncSession, user_id: int | None) -> str | None:
    return None if user_id is None else await session.scalar(select(User.email).where(User.id == user_id))


async def alert_detail(session: AsyncSession, alert_id: int) -> AlertDetail:
    alert = await session.get(RiskAlert, alert_id)
    if alert is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    clients = (
        await session.execute(
            select(RiskAlertClient.client_id, User.email)
            .outerjoin(User, User.id == RiskAlertClient.client_id)
            .where(RiskAlertClient.alert_id == alert_id)
            .order_by(RiskAlertClient.client_id)
        )
    ).all()
    return AlertDetail(
        alert=alert,
        assignee_email=await _email(session, alert.assignee_id),
        resolver_email=await _email(session, alert.resolved_by),
        clients=[(int(client_id), email) for client_id, email in clients],
    )


async def assignable_staff(session: AsyncSession) -> list[tuple[int, str]]:
    """Active staff who hold ``risk.manage`` through a role: who an alert may be given to."""
    rows = await session.execute(
        select(User.id, User.email)
        .join(StaffRole, StaffRole.user_id == User.id)
        .join(RolePermission, RolePermission.role_id == StaffRole.role_id)
        .where(User.kind == STAFF, User.is_active.is_(True), RolePermission.permission == MANAGE_PERMISSION)
        .distinct()
        .order_by(User.email)
    )
    return [(int(user_id), email) for user_id, email in rows]


@dataclass(frozen=True)
class RuleCount:
    """Open alerts of one rule, for the dashboard: how many, and how long the oldest has waited."""

    rule: str
    label: str
    count: int
    oldest_raised_at: datetime
    oldest_age_seconds: int


async def open_alert_counts(session: AsyncSession, now: datetime | None = None) -> list[RuleCount]:
    """Open alerts by rule with the oldest one's age, most waiting first; rules with none are left out."""
    now = now or clock.utcnow()
    rows = await session.execute(
        select(RiskAlert.rule, func.count(RiskAlert.id), func.min(RiskAlert.raised_at))
        .where(RiskAlert.status == AlertStatus.OPEN.value)
        .group_by(RiskAlert.rule)
    )
    counts = [
        RuleCount(
            rule=rule,
            label=RULE_LABELS.get(rule, rule),
            count=int(count),
            oldest_raised_at=clock.as_utc(oldest),
            oldest_age_seconds=max(0, int((now - clock.as_utc(oldest)).total_seconds())),
        )
        for rule, count, oldest in rows
    ]
    return sorted(counts, key=lambda item: (-item.oldest_age_seconds, item.rule))


async def alerts_for_client(session: AsyncSession, client_id: int) -> list[RiskAlert]:
    """Every alert that names the client (alone or among others), newest first, for the client 360."""
    named = select(RiskAlertClient.alert_id).where(RiskAlertClient.client_id == client_id)
    rows = await session.scalars(
        select(RiskAlert)
        .where(or_(RiskAlert.client_id == client_id, RiskAlert.id.in_(named)))
        .order_by(RiskAlert.raised_at.desc(), RiskAlert.id.desc())
    )
    return list(rows)


# --- Changing ---------------------------------------------------------------------------------------


async def _open_alert(session: AsyncSession, alert_id: int) -> RiskAlert:
    alert = await session.scalar(select(RiskAlert).where(RiskAlert.id == alert_id).with_for_update())
    if alert is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    if alert.status != AlertStatus.OPEN.value:
        raise AlertStateError("This alert is resolved already.")
    return alert


async def assign_alert(
    session: AsyncSession, alert_id: int, assignee_id: int | None, actor: Actor
) -> RiskAlert:
    """Give an open alert to a staff member holding ``risk.manage`` (``None``: to nobody)."""
    if assignee_id is not None and assignee_id not in {
        user_id for user_id, _ in await assignable_staff(session)
    }:
        raise InvalidAlertInputError("assignee", "Choose a staff member who handles risk alerts.")
    alert = await _open_alert(session, alert_id)
    before = alert.assignee_id
    if before == assignee_id:
        return alert
    alert.assignee_id = assignee_id
    alert.updated_at = clock.utcnow()
    await record_audit(
        session,
        actor,
        "risk.alert_assigned",
        target_type="risk_alert",
        target_id=alert.id,
        before={"assignee_id": before},
        after={"assignee_id": assignee_id},
    )
    await session.flush()
    return alert


def parse_resolution(raw: str) -> Resolution:
    try:
        return Resolution(raw.strip())
    except ValueError:
        raise InvalidAlertInputError("resolution", "Choose a resolution.") from None


async def resolve_alert(
    session: AsyncSession, alert_id: int, resolution: str, comment: str, actor: Actor
) -> RiskAlert:
    """Close an open alert with a resolution and a comment that says why."""
    chosen = parse_resolution(resolution)
    text = comment.strip()
    if not text:
        raise InvalidAlertInputError("comment", "Write a comment that explains the resolution.")
    if len(text) > COMMENT_LIMIT:
        raise InvalidAlertInputError("comment", "The comment is too long (at most 2000 characters).")
    alert = await _open_alert(session, alert_id)
    before = {"status": alert.status, "resolution": alert.resolution, "assignee_id": alert.assignee_id}
    now = clock.utcnow()
    alert.status = AlertStatus.RESOLVED.value
    alert.resolution = chosen.value
    alert.resolution_comment = text
    alert.resolved_by = actor.id
    alert.resolved_at = now
    alert.updated_at = now
    await record_audit(
        session,
        actor,
        "risk.alert_resolved",
        target_type="risk_alert",
        target_id=alert.id,
        before=before,
        after={"status": alert.status, "resolution": alert.resolution, "comment": text},
    )
    await session.flush()
    return alert
