"""The alert queue over HTTP: pages for risk.manage only, filters and pagination, assigning and
resolving with audit rows, and bad input refused with 400 and nothing written."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from risk import rules
from risk.alerts import alerts_for_client, open_alert_counts, raise_alerts
from risk.models import RiskAlert
from risk.rules import Finding
from tests.apps import backoffice_app
from tests.helpers import make_client, make_staff, staff_sign_in, submit
from tests.integration.risk.world import NOW

pytestmark = pytest.mark.asyncio


def finding(client_id: int, key: str, rule: str = rules.LARGE_DEPOSIT, *others: int) -> Finding:
    return Finding(
        rule=rule,
        subject=f"client:{client_id}",
        dedup_key=key,
        summary="Deposit #%(id)s of %(amount)s",
        summary_args={"id": key, "amount": "12,000.00 USD"},
        client_ids=(client_id, *others),
        evidence={"deposit": {"id": 7, "amount_minor": 1_200_000, "currency": "USD"}, "client_id": client_id},
    )


async def seed(db: Database, findings: list[Finding], at=NOW) -> list[int]:  # type: ignore[no-untyped-def]
    async with db.transaction() as session:
        return await raise_alerts(session, findings, at)


async def signed_in(
    client: AsyncTestClient, db: Database, settings: Settings, email: str, roles: list[str]
) -> int:
    staff_id, secret = await make_staff(db, settings, email, roles)
    assert secret
    await staff_sign_in(client, email, secret)
    return staff_id


async def audit_rows(db: Database, action: str) -> list[AuditEvent]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def alert(db: Database, alert_id: int) -> RiskAlert:
    async with db.session() as session:
        row = await session.get(RiskAlert, alert_id)
    assert row is not None
    return row


async def test_pages_open_for_risk_staff_and_are_refused_without_the_permission(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    client_id = await make_client(db, settings, "whale@example.test")
    [alert_id] = await seed(db, [finding(client_id, "deposit:1")])
    _id, secret = await make_staff(db, settings, "fin@staff.test", ["finance"])
    assert secret
    async with AsyncTestClient(app=backoffice_app(settings, db)) as finance:
        await staff_sign_in(finance, "fin@staff.test", secret)
        for path in ("/risk/alerts", f"/risk/alerts/{alert_id}"):
            assert (await finance.get(path)).status_code == 403, path
        token_page = await finance.get("/account")
        refused = await submit(finance, "/account", f"/risk/alerts/{alert_id}/assign", {"assignee": "me"})
        assert token_page.status_code == 200
        assert refused.status_code == 403
    assert (await alert(db, alert_id)).assignee_id is None

    await signed_in(backoffice_client, db, settings, "comp@staff.test", ["compliance"])
    queue = await backoffice_client.get("/risk/alerts")
    assert queue.status_code == 200
    text = html.unescape(queue.text)
    assert "Deposit #deposit:1 of 12,000.00 USD" in text
    assert "Large deposit" in text
    assert f'href="/clients/{client_id}"' in queue.text
    assert "whale@example.test" in queue.text
    assert 'href="/risk/alerts"' in queue.text  # in the navigation
    page = await backoffice_client.get(f"/risk/alerts/{alert_id}")
    assert page.status_code == 200
    assert "whale@example.test" in page.text
    assert f'href="/clients/{client_id}"' in page.text
    assert "1200000" in page.text  # the evidence
    assert (await backoffice_client.get(f"/risk/alerts/{alert_id + 99}")).status_code == 404


async def test_assigning_and_resolving_are_audited_with_before_and_after(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    client_id = await make_client(db, settings, "c@example.test")
    [alert_id] = await seed(db, [finding(client_id, "deposit:2")])
    colleague, _secret = await make_staff(db, settings, "colleague@staff.test", ["compliance"])
    me = await signed_in(backoffice_client, db, settings, "comp@staff.test", ["compliance"])
    page = f"/risk/alerts/{alert_id}"

    mine = await submit(backoffice_client, page, f"{page}/assign", {"assignee": "me"})
    assert mine.status_code == 303
    assert (await alert(db, alert_id)).assignee_id == me
    theirs = await submit(backoffice_client, page, f"{page}/assign", {"assignee": str(colleague)})
    assert theirs.status_code == 303
    assert (await alert(db, alert_id)).assignee_id == colleague
    assigned = await audit_rows(db, "risk.alert_assigned")
    assert [(row.before, row.after) for row in assigned] == [
        ({"assignee_id": None}, {"assignee_id": me}),
        ({"assignee_id": me}, {"assignee_id": colleague}),
    ]
    assert {row.actor_id for row in assigned} == {me}
    assert {row.target_id for row in assigned} == {str(alert_id)}

    done = await submit(
        backoffice_client,
        page,
        f"{page}/resolve",
        {"resolution": "false_positive", "comment": "Known payroll."},
    )
    assert done.status_code == 303
    resolved = await alert(db, alert_id)
    assert (resolved.status, resolved.resolution, resolved.resolution_comment, resolved.resolved_by) == (
        "resolved",
        "false_positive",
        "Known payroll.",
        me,
    )
    [event] = await audit_rows(db, "risk.alert_resolved")
    assert event.before == {"status": "open", "resolution": None, "assignee_id": colleague}
    assert event.after == {"status": "resolved", "resolution": "false_positive", "comment": "Known payroll."}
    shown = await backoffice_client.get(page)
    assert "Known payroll." in shown.text
    assert "False positive" in shown.text

    again = await submit(
        backoffice_client, page, f"{page}/resolve", {"resolution": "confirmed", "comment": "x"}
    )
    assert again.status_code == 409
    assert (await alert(db, alert_id)).resolution == "false_positive"
    assert len(await audit_rows(db, "risk.alert_resolved")) == 1


async def test_bad_input_is_refused_with_400_and_nothing_written(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    client_id = await make_client(db, settings, "c@example.test")
    [alert_id] = await seed(db, [finding(client_id, "deposit:3")])
    outsider, _secret = await make_staff(db, settings, "fin@staff.test", ["finance"])
    await signed_in(backoffice_client, db, settings, "comp@staff.test", ["compliance"])
    page = f"/risk/alerts/{alert_id}"
    cases = [
        ("assign", {"assignee": str(outsider)}, "Choose a staff member who handles risk alerts."),
        ("assign", {"assignee": "someone"}, "Choose a staff member who handles risk alerts."),
        ("resolve", {"resolution": "shrug", "comment": "why"}, "Choose a resolution."),
        (
            "resolve",
            {"resolution": "confirmed", "comment": "   "},
            "Write a comment that explains the resolution.",
        ),
        ("resolve", {"resolution": "confirmed", "comment": "x" * 2001}, "The comment is too long"),
    ]
    for action, data, message in cases:
        response = await submit(backoffice_client, page, f"{page}/{action}", data)
        assert response.status_code == 400, (action, data)
        assert message in html.unescape(response.text)
    row = await alert(db, alert_id)
    assert (row.status, row.assignee_id, row.resolution) == ("open", None, None)
    assert await audit_rows(db, "risk.alert_assigned") == []
    assert await audit_rows(db, "risk.alert_resolved") == []


async def test_queue_filters_ages_and_pages(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    client_id = await make_client(db, settings, "many@example.test")
    await seed(db, [finding(client_id, f"deposit:{i}") for i in range(55)], at=NOW - timedelta(days=3))
    [other] = await seed(
        db, [finding(client_id, "withdrawal:1", rules.LARGE_WITHDRAWAL)], at=NOW - timedelta(hours=5)
    )
    me = await signed_in(backoffice_client, db, settings, "comp@staff.test", ["compliance"])
    first = await backoffice_client.get("/risk/alerts")
    assert first.text.count('class="alert-row"') == 50
    assert "56 alerts match." in first.text
    assert "3 d" in first.text
    second = await backoffice_client.get("/risk/alerts?status=open&rule=&assignee=&page=2")
    assert second.text.count('class="alert-row"') == 6
    assert "5 h" in second.text
    by_rule = await backoffice_client.get("/risk/alerts?rule=large_withdrawal")
    assert by_rule.text.count('class="alert-row"') == 1
    assert f'data-alert="{other}"' in by_rule.text
    await submit(
        backoffice_client, f"/risk/alerts/{other}", f"/risk/alerts/{other}/assign", {"assignee": "me"}
    )
    mine = await backoffice_client.get("/risk/alerts?assignee=me")
    assert mine.text.count('class="alert-row"') == 1
    assert (await backoffice_client.get(f"/risk/alerts?assignee={me}")).text.count('class="alert-row"') == 1
    assert (await backoffice_client.get("/risk/alerts?assignee=none")).text.count('class="alert-row"') == 50
    await submit(
        backoffice_client,
        f"/risk/alerts/{other}",
        f"/risk/alerts/{other}/resolve",
        {"resolution": "escalated", "comment": "To the MLRO."},
    )
    resolved = await backoffice_client.get("/risk/alerts?status=resolved")
    assert resolved.text.count('class="alert-row"') == 1
    assert (await backoffice_client.get("/risk/alerts?page=junk&status=bogus")).status_code == 200
    chinese = await backoffice_client.get("/risk/alerts?status=", headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 200
    assert "风险警报" in chinese.text
    assert "大额入金" in chinese.text
    assert "条警报符合条件" in chinese.text


async def test_dashboard_counts_and_client_360_feed(db: Database, settings: Settings) -> None:
    one = await make_client(db, settings, "one@example.test")
    two = await make_client(db, settings, "two@example.test")
    await seed(db, [finding(one, "deposit:1")], at=NOW - timedelta(hours=2))
    await seed(db, [finding(one, "deposit:2"), finding(two, "withdrawal:9", rules.LARGE_WITHDRAWAL)], at=NOW)
    shared = Finding(
        rule=rules.SHARED_IP,
        subject="ip:203.0.113.5",
        dedup_key="clients:x",
        summary="%(count)s clients signed in from one IP address",
        summary_args={"count": 2},
        client_ids=(one, two),
    )
    await seed(db, [shared], at=NOW - timedelta(minutes=5))
    async with db.session() as session:
        counts = await open_alert_counts(session, now=NOW)
        for_one = await alerts_for_client(session, one)
        for_two = await alerts_for_client(session, two)
    assert [(c.rule, c.count, c.oldest_age_seconds) for c in counts] == [
        (rules.LARGE_DEPOSIT, 2, 7200),
        (rules.SHARED_IP, 1, 300),
        (rules.LARGE_WITHDRAWAL, 1, 0),
    ]
    assert counts[0].label == "Large deposit"
    assert [a.dedup_key for a in for_one] == ["deposit:2", "clients:x", "deposit:1"]
    assert [a.dedup_key for a in for_two] == ["withdrawal:9", "clients:x"]
