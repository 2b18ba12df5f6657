"""Admins manage staff and roles; every action lands in the audit log, which staff can filter and export."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.db import Database
from core.identity.models import Role, User
from core.identity.roles import permissions_of
from core.settings import Settings
from tests.helpers import STRONG_PASSWORD, latest_mail, make_staff, staff_sign_in, submit

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def admin(backoffice_client: AsyncTestClient, db: Database, settings: Settings) -> AsyncTestClient:
    _id, secret = await make_staff(db, settings, "root@staff.test", ["admin"])
    assert secret
    await staff_sign_in(backoffice_client, "root@staff.test", secret)
    return backoffice_client


async def test_admin_creates_staff_who_must_enrol(admin: AsyncTestClient, db: Database) -> None:
    response = await submit(
        admin,
        "/staff/new",
        "/staff/new",
        {
            "email": "Finn@Staff.test",
            "display_name": "Finn",
            "password": STRONG_PASSWORD,
            "roles": ["finance", "read_only"],
        },
    )
    assert response.status_code == 303
    detail = await admin.get(response.headers["location"])
    assert "finn@staff.test" in detail.text
    assert "not set up" in detail.text
    async with db.session() as session:
        finn = await session.scalar(select(User).where(User.email == "finn@staff.test"))
        assert finn is not None
        assert finn.kind == "staff"
        assert finn.totp_secret is None
        assert "cashier.approve_withdrawal" in await permissions_of(session, finn.id)
        event = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "staff.created", AuditEvent.target_id == str(finn.id)
            )
        )
    assert event is not None
    assert event.actor_email == "root@staff.test"
    assert event.after == {
        "email": "finn@staff.test",
        "display_name": "Finn",
        "roles": ["finance", "read_only"],
    }
    assert event.ip
    assert event.user_agent

    duplicate = await submit(
        admin, "/staff/new", "/staff/new", {"email": "finn@staff.test", "password": STRONG_PASSWORD}
    )
    assert duplicate.status_code == 400
    assert "exists already" in duplicate.text


async def test_admin_changes_roles_disables_and_resets_2fa(
    admin: AsyncTestClient, db: Database, settings: Settings
) -> None:
    staff_id, _secret = await make_staff(db, settings, "sam@staff.test", ["support"])
    await submit(admin, f"/staff/{staff_id}", f"/staff/{staff_id}/roles", {"roles": ["compliance"]})
    await submit(admin, f"/staff/{staff_id}", f"/staff/{staff_id}/active", {"active": "0"})
    await submit(admin, f"/staff/{staff_id}", f"/staff/{staff_id}/reset-2fa", {})
    async with db.session() as session:
        sam = await session.get_one(User, staff_id)
        assert not sam.is_active
        assert sam.totp_secret is None
        assert "kyc.review" in await permissions_of(session, staff_id)
        events = {
            e.action: e
            for e in await session.scalars(select(AuditEvent).where(AuditEvent.target_id == str(staff_id)))
        }
    assert events["staff.roles_changed"].before == {"roles": ["support"]}
    assert events["staff.roles_changed"].after == {"roles": ["compliance"]}
    assert events["staff.disabled"].after == {"is_active": False}
    assert events["staff.2fa_reset"].after == {"totp_enabled": False}
    assert (await admin.get("/staff/999999")).status_code == 404


async def test_admin_edits_role_permissions(admin: AsyncTestClient, db: Database) -> None:
    async with db.session() as session:
        support = await session.scalar(select(Role).where(Role.name == "support"))
    assert support is not None
    await submit(
        admin,
        f"/roles/{support.id}",
        f"/roles/{support.id}/permissions",
        {"permissions": ["clients.read", "audit.read"]},
    )
    created = await submit(
        admin, "/roles", "/roles", {"name": "Night desk", "permissions": ["dashboard.view"]}
    )
    assert created.status_code == 303
    bogus = await submit(
        admin,
        f"/roles/{support.id}",
        f"/roles/{support.id}/permissions",
        {"permissions": ["root.everything"]},
    )
    assert bogus.status_code == 303
    async with db.session() as session:
        night = await session.scalar(select(Role).where(Role.name == "night_desk"))
        grants = {e.action for e in await session.scalars(select(AuditEvent))}
    assert night is not None
    page = await admin.get("/roles")
    assert "night_desk" in page.text
    assert "audit.read, clients.read" in page.text
    assert {"role.permissions_changed", "role.created"} <= grants


async def test_audit_viewer_filters_and_exports_csv(
    admin: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await make_staff(db, settings, "=cmd@staff.test", [], enrolled=False)  # a formula-looking email
    page = await admin.get("/audit?action=security.")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="audit-row">', page.text)
    assert len(rows) == 1
    assert "security.login" in page.text
    assert "staff.created" not in page.text
    by_actor = await admin.get("/audit?actor=root@")
    assert "security.login" in by_actor.text
    export = await admin.get("/audit/export.csv?action=staff.")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    records = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["action"] for r in records] == ["staff.created", "staff.created"]
    assert all(not r["after"].startswith("=") for r in records)
    assert any("'=cmd@staff.test" not in r["after"] and "=cmd@staff.test" in r["after"] for r in records)
    async with db.session() as session:
        exported = await session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.exported"))
    assert exported is not None
    assert exported.after == {"filters": {"action": "staff."}, "rows": 2}


async def test_secrets_are_masked_in_the_audit_log(db: Database) -> None:
    from core.audit.service import SYSTEM, record_audit

    async with db.transaction() as session:
        event = await record_audit(
            session,
            SYSTEM,
            "test.masking",
            before={"password_hash": "$argon2id$x", "name": "a"},
            after={"totp_secret": "JBSWY3DP", "nested": {"api_key": "k"}, "cleared_token": None},
        )
    assert event.before == {"password_hash": "***", "name": "a"}
    assert event.after == {"totp_secret": "***", "nested": {"api_key": "***"}, "cleared_token": None}


async def test_dev_mailbox_shows_captured_mail_with_links(
    backoffice_client: AsyncTestClient, portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    from core.mail.delivery import deliver_mail

    await submit(
        portal_client, "/register", "/register", {"email": "mia@example.test", "password": STRONG_PASSWORD}
    )
    mail = await latest_mail(db, "mia@example.test")
    assert await deliver_mail(db, settings, mail.id) == "captured"
    _id, secret = await make_staff(db, settings, "help@staff.test", ["support"])
    assert secret
    await staff_sign_in(backoffice_client, "help@staff.test", secret)
    inbox = await backoffice_client.get("/dev/mailbox")
    assert "mia@example.test" in inbox.text
    assert "Confirm your email address" in inbox.text
    shown = await backoffice_client.get(f"/dev/mailbox/{mail.id}")
    link = re.search(r'<a href="(http://127\.0\.0\.1:8000/verify-email/[^"]+)"', shown.text)
    assert link


async def test_dev_mailbox_is_absent_with_smtp(db: Database, settings: Settings) -> None:
    from tests.apps import backoffice_app

    with_smtp = replace(settings, smtp_host="smtp.example.test")
    _id, secret = await make_staff(db, settings, "help2@staff.test", ["support"])
    assert secret
    async with AsyncTestClient(app=backoffice_app(with_smtp, db)) as client:
        await staff_sign_in(client, "help2@staff.test", secret)
        assert (await client.get("/dev/mailbox")).status_code == 404
