"""The client 360 page over HTTP, its tag and owner actions, the tag catalogue, and the staff
page's data scope."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from core.audit.models import AuditEvent
from core.db import Database
from core.identity.models import LoginSession
from core.settings import Settings
from crm.client_360 import client_timeline
from crm.models import ClientOwner, ClientTag, StaffScope, Tag
from risk.alerts import raise_alerts
from risk.rules import Finding
from tests.helpers import csrf_from
from tests.integration.crm.clients_world import DEALS, LOGIN, T0, build, signed_in


def section(page: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}"[^>]*>(.*?)</section>', page, re.S)
    assert match, f"no section {section_id}"
    return html.unescape(match.group(1))


def tickets(page: str) -> list[int]:
    return [int(t) for t in re.findall(r'<tr class="deal-row" data-ticket="(\d+)">', page)]


async def test_the_360_shows_the_whole_client(db: Database, settings: Settings, tmp_path: Path) -> None:
    w = await build(db, settings, tmp_path)
    async with db.transaction() as session:
        finding = Finding("large_deposit", f"client:{w.anna}", "d-1", "A large deposit", client_ids=(w.anna,))
        other = Finding("shared_ip", "ip:x", "k", "Shared", client_ids=(w.li, w.ivy))
        await raise_alerts(session, [finding, other], T0)
    async with signed_in(settings, db, w.admin) as browser:
        page = await browser.get(f"/clients/{w.anna}")
        assert page.status_code == 200
        text = page.text
        assert "Anna Schmidt" in html.unescape(text)
        assert "+491701234567" in section(text, "client-profile")
        kyc = section(text, "client-kyc")
        assert 'data-status="approved"' in kyc
        assert f'href="/kyc/{w.anna}"' in kyc
        accounts = section(text, "client-accounts")
        assert f'data-login="{LOGIN}"' in accounts
        assert "500.00 USD" in accounts  # the mirrored balance: 50,000 cents
        assert "512.50" in accounts  # equity
        assert "1,000.00 USD" in section(text, "client-wallets")  # the ledger balance after the wire
        funding = section(text, "client-funding")
        assert 'data-kind="deposit"' in funding
        assert f"/finance/deposits/?client_id={w.anna}" in funding
        owner_tags = section(text, "client-owner-tags")
        assert "alice@staff.test" in owner_tags
        assert "VIP" in owner_tags
        alerts = section(text, "client-risk-alerts")
        assert "A large deposit" in alerts
        assert alerts.count("data-alert=") == 1  # the shared-IP alert names other clients
        work = re.search(r'<section id="client-work"[^>]*>', text)
        assert work
        assert f'hx-get="/clients/{w.anna}/work"' in work.group(0)
        assert tickets(text) == list(range(9000 + DEALS - 1, 9000 + DEALS - 21, -1))  # newest 20
        assert f"/clients/{w.anna}?deals_page=1" in text
        older = await browser.get(f"/clients/{w.anna}", params={"deals_page": "1"})
        assert tickets(older.text) == [9004, 9003, 9002, 9001, 9000]
        timeline = section(text, "client-timeline")
        kinds = re.findall(r'data-kind="(\w+)"', timeline)
        assert {"audit", "deposit", "login"} <= set(kinds)
        assert "crm.client_tagged" in timeline
        assert "203.0.113.9" in timeline
        assert "Waiting for staff" not in text  # nothing pending for Anna

        li = await browser.get(f"/clients/{w.li}")
        assert li.status_code == 200
        ib = section(li.text, "client-ib")
        assert f"#{w.ivy_partner}" in ib
        assert "ivy@partner.example" in ib
        assert f"#{w.tom_partner}" in ib
        assert "tom@partner.example" in ib
        pending = section(li.text, "client-pending")
        assert f'href="/kyc/{w.li}"' in pending
        assert f"KYC case #{w.li}" in pending

        ivy = await browser.get(f"/clients/{w.ivy}")
        referrals = section(ivy.text, "client-ib")
        assert '<strong class="referral-total">1</strong>' in referrals
        assert "li@client.example" in referrals
        assert "GOLDEN" in referrals

        assert (await browser.get("/clients/999999")).status_code == 404
        assert (await browser.get(f"/clients/{w.alice.id}")).status_code == 404  # staff, not a client


async def test_the_timeline_merges_sources_newest_first_in_pages(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    w = await build(db, settings, tmp_path)
    async with db.transaction() as session:
        for n in range(6):
            moment = T0 + timedelta(hours=n + 1)
            session.add(
                LoginSession(
                    id=f"s-{n}", user_id=w.anna, app="portal", created_at=moment, last_seen_at=moment
                )
            )
    async with db.session() as session:
        whole = await client_timeline(session, w.anna, 0, per_page=100)
        pages = []
        for page in range(4):
            pages += (await client_timeline(session, w.anna, page, per_page=2)).events
    moments = [event.at for event in whole.events]
    assert moments == sorted(moments, reverse=True)
    assert not whole.has_more
    assert len(whole.events) > 8
    assert [(e.kind, e.title) for e in pages] == [(e.kind, e.title) for e in whole.events[:8]]
    assert {e.kind for e in whole.events} >= {"audit", "deposit", "login"}


async def test_tags_and_owner_from_the_360_are_audited(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    w = await build(db, settings, tmp_path)
    async with signed_in(settings, db, w.admin) as browser:
        catalogue = await browser.get("/clients/tags")
        assert catalogue.status_code == 200
        token = csrf_from(catalogue.text)
        bad = await browser.post("/clients/tags", data={"_csrf_token": token, "name": "Hot", "colour": "red"})
        assert bad.status_code == 400
        assert "#rrggbb" in bad.text
        taken = await browser.post(
            "/clients/tags", data={"_csrf_token": token, "name": "vip", "colour": "#000000"}
        )
        assert taken.status_code == 400
        made = await browser.post(
            "/clients/tags",
            data={"_csrf_token": token, "name": "Hot lead", "colour": "#DC2626"},
            follow_redirects=False,
        )
        assert made.status_code == 303
        async with db.session() as session:
            hot = await session.scalar(select(Tag).where(Tag.name == "Hot lead"))
        assert hot is not None
        assert hot.colour == "#dc2626"
        tagged = await browser.post(
            f"/clients/{w.sam}/tags",
            data={"_csrf_token": token, "tag_id": str(hot.id)},
            follow_redirects=False,
        )
        assert tagged.status_code == 303
        unknown = await browser.post(
            f"/clients/{w.sam}/tags", data={"_csrf_token": token, "tag_id": "4242"}, follow_redirects=False
        )
        assert unknown.status_code == 303
        listed = await browser.get("/clients", params={"tag": str(hot.id)})
        assert f'data-id="{w.sam}"' in listed.text
        removed = await browser.post(
            f"/clients/{w.anna}/tags/{w.vip}/remove", data={"_csrf_token": token}, follow_redirects=False
        )
        assert removed.status_code == 303
        owner = await browser.post(
            f"/clients/{w.sam}/owner",
            data={"_csrf_token": token, "owner": str(w.carol.id)},
            follow_redirects=False,
        )
        assert owner.status_code == 303
        not_staff = await browser.post(
            f"/clients/{w.sam}/owner", data={"_csrf_token": token, "owner": str(w.li)}, follow_redirects=False
        )
        assert not_staff.status_code == 303
        page = await browser.get(f"/clients/{w.sam}")
        assert "carol@staff.test" in section(page.text, "client-owner-tags")
        renamed = await browser.post(
            f"/clients/tags/{hot.id}", data={"_csrf_token": token, "name": "Warm lead", "colour": "#dc2626"}
        )
        assert renamed.status_code == 200  # followed back to the catalogue
        deleted = await browser.post(
            f"/clients/tags/{hot.id}/delete", data={"_csrf_token": token}, follow_redirects=False
        )
        assert deleted.status_code == 303
    async with db.session() as session:
        events = [
            (e.action, e.target_type, e.target_id, e.before, e.after)
            for e in await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.actor_id == w.admin.id, AuditEvent.action.like("crm.%"))
                .order_by(AuditEvent.id)
            )
        ]
        owners = {row.client_id: row.owner_id for row in await session.scalars(select(ClientOwner))}
        tagged_rows = {(row.client_id, row.tag_id) for row in await session.scalars(select(ClientTag))}
    hot_id = str(hot.id)
    assert events == [
        ("crm.tag_created", "crm_tag", hot_id, None, {"name": "Hot lead", "colour": "#dc2626"}),
        ("crm.client_tagged", "user", str(w.sam), {"tag": None}, {"tag": "Hot lead", "tag_id": hot.id}),
        ("crm.client_untagged", "user", str(w.anna), {"tag": "VIP", "tag_id": w.vip}, {"tag": None}),
        ("crm.client_assigned", "user", str(w.sam), {"owner_id": None}, {"owner_id": w.carol.id}),
        (
            "crm.tag_changed",
            "crm_tag",
            hot_id,
            {"name": "Hot lead", "colour": "#dc2626"},
            {"name": "Warm lead", "colour": "#dc2626"},
        ),
        (
            "crm.tag_deleted",
            "crm_tag",
            hot_id,
            {"name": "Warm lead", "colour": "#dc2626", "clients": 1},
            None,
        ),
    ]
    assert owners[w.sam] == w.carol.id
    assert tagged_rows == set()


async def test_staff_data_scope_is_set_on_the_staff_page(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    w = await build(db, settings, tmp_path)
    async with signed_in(settings, db, w.admin) as browser:
        page = await browser.get(f"/staff/{w.reader.id}")
        assert page.status_code == 200
        assert 'id="data-scope"' in page.text
        token = csrf_from(page.text)
        refused = await browser.post(
            f"/staff/{w.reader.id}/scope", data={"_csrf_token": token, "kind": "team", "team": " "}
        )
        assert "a team scope needs a team name" in html.unescape(refused.text)
        saved = await browser.post(
            f"/staff/{w.reader.id}/scope",
            data={"_csrf_token": token, "kind": "team", "team": "east"},
            follow_redirects=False,
        )
        assert saved.status_code == 303
    async with db.session() as session:
        row = await session.get(StaffScope, w.reader.id)
        event = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "crm.data_scope_changed", AuditEvent.target_id == str(w.reader.id)
            )
        )
    assert row is not None
    assert (row.kind, row.team) == ("team", "east")
    assert event is not None
    assert event.before == {"kind": "all", "team": ""}
    assert event.actor_id == w.admin.id
    async with signed_in(settings, db, w.reader) as browser:
        listed = await browser.get("/clients")
        assert set(map(int, re.findall(r'class="client-row" data-id="(\d+)"', listed.text))) == {w.li, w.ivy}
        assert (await browser.get(f"/staff/{w.alice.id}")).status_code == 403


async def test_risk_alerts_show_only_to_staff_who_work_the_alert_queue(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    w = await build(db, settings, tmp_path)
    async with db.transaction() as session:
        finding = Finding("large_deposit", f"client:{w.anna}", "d-1", "A large deposit", client_ids=(w.anna,))
        await raise_alerts(session, [finding], T0)
    async with signed_in(settings, db, w.reader) as browser:
        page = await browser.get(f"/clients/{w.anna}")
        assert page.status_code == 200
        assert 'id="client-risk-alerts"' not in page.text
        assert "A large deposit" not in page.text
