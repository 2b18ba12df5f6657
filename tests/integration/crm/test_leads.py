"""Leads over HTTP and in the domain: the form, CSV import (all or nothing), the pipeline's allowed
transitions, conversion with its invitation mail, data scope, and unfinished registrations."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from core import clock
from core.audit.service import SYSTEM
from core.db import Database
from core.identity.models import CLIENT, User
from core.settings import Settings
from crm.assignment import assign_client, set_data_scope
from crm.leads import capture_unfinished_registrations
from crm.models import ClientOwner
from crm.work_models import Lead
from kyc.models import CaseStatus, KycCase, KycLevel
from tests.helpers import csrf_from, link_path, make_client, submit
from tests.integration.crm.work_helpers import audit_actions, count, mails, staff_client


async def lead_by_email(db: Database, email: str) -> Lead:
    async with db.session() as session:
        lead = await session.scalar(select(Lead).where(Lead.email == email))
    assert lead is not None, email
    return lead


async def test_lead_form_pipeline_and_conversion(
    settings: Settings, db: Database, portal_client: Any
) -> None:
    taken = await make_client(db, settings, "taken@client.test")
    async with staff_client(settings, db, "sales@staff.test", ["support"]) as (staff, staff_id):
        assert (await staff.get("/leads/new")).status_code == 200
        for bad, message in (
            ({"email": "not-an-email"}, "email: &#39;not-an-email&#39; is not an email address"),
            ({"email": "p@lead.test", "phone": "call me"}, "phone:"),
            ({"email": "p@lead.test", "phone": "50%"}, "phone: &#39;50%&#39; is not a phone number"),
            ({"email": "p@lead.test", "country": "Germany"}, "country:"),
            ({"email": "TAKEN@client.test"}, f"email: taken@client.test is already client #{taken}"),
            ({"email": "p@lead.test", "owner_id": "999999"}, "owner: no staff member has id 999999"),
        ):
            refused = await submit(staff, "/leads/new", "/leads/new", {"owner_id": str(staff_id), **bad})
            assert refused.status_code == 400, bad
            assert message in refused.text
        assert await count(db, Lead) == 0

        made = await submit(
            staff,
            "/leads/new",
            "/leads/new",
            {
                "email": " Prospect@Lead.test ",
                "name": "Pat  Prospect",
                "phone": "+44 20 7946 0000",
                "country": "gb",
                "language": "zh_Hans",
                "owner_id": str(staff_id),
            },
        )
        assert made.status_code == 303
        lead = await lead_by_email(db, "prospect@lead.test")
        assert made.headers["location"] == f"/leads/{lead.id}"
        assert (lead.name, lead.country, lead.source, lead.status, lead.owner_id) == (
            "Pat Prospect",
            "GB",
            "manual",
            "new",
            staff_id,
        )
        again = await submit(staff, "/leads/new", "/leads/new", {"email": "prospect@lead.test"})
        assert again.status_code == 400
        assert f"already lead #{lead.id}" in again.text

        listing = await staff.get("/leads")
        assert listing.status_code == 200
        assert 'data-email="prospect@lead.test"' in listing.text
        page = f"/leads/{lead.id}"
        assert (await staff.get(page)).status_code == 200

        # the pipeline: new can't jump to qualified, nor be "converted" by a status change
        for status in ("qualified", "converted", "bogus"):
            jump = await submit(staff, page, f"{page}/status", {"status": status})
            assert jump.status_code == 400, status
        early = await submit(staff, page, f"{page}/convert", {})
        assert early.status_code == 400
        assert "qualify it first" in html.unescape(early.text)
        assert (await lead_by_email(db, "prospect@lead.test")).status == "new"
        for status in ("contacted", "qualified"):
            moved = await submit(staff, page, f"{page}/status", {"status": status})
            assert moved.status_code == 303

        converted = await submit(staff, page, f"{page}/convert", {})
        assert converted.status_code == 303
        lead = await lead_by_email(db, "prospect@lead.test")
        assert lead.status == "converted"
        assert lead.converted_at is not None
        async with db.session() as session:
            client = await session.get(User, lead.client_id)
            owner = await session.get(ClientOwner, lead.client_id)
        assert client is not None
        assert (client.kind, client.email, client.language, client.email_verified_at) == (
            CLIENT,
            "prospect@lead.test",
            "zh_Hans",
            None,
        )
        assert owner is not None
        assert owner.owner_id == staff_id
        (invitation,) = await mails(db, "crm_invitation")
        assert invitation.to_address == "prospect@lead.test"
        assert invitation.subject == "您的 BrokerDesk 账户已开通"
        assert invitation.holds_secret
        # a converted lead is final
        assert (await submit(staff, page, f"{page}/status", {"status": "lost"})).status_code == 400
        assert (await submit(staff, page, f"{page}/convert", {})).status_code == 400

    # the invitation is the identity path's set-password link: the client chooses a password
    link = link_path(invitation)
    assert link.startswith("/reset-password/")
    form = await portal_client.get(link)
    assert form.status_code == 200
    chosen = await portal_client.post(
        link, data={"password": "Quiet-Meadow-4821!", "_csrf_token": csrf_from(form.text)}
    )
    assert chosen.status_code == 200, chosen.text
    async with db.session() as session:
        verified = await session.get(User, client.id)
    assert verified is not None
    assert verified.email_verified_at is not None

    actions = [e.action for e in await audit_actions(db)]
    assert actions == [
        "crm.lead_created",
        "crm.lead_status_changed",
        "crm.lead_status_changed",
        "crm.client_assigned",
        "crm.lead_converted",
    ]
    (created,) = [e for e in await audit_actions(db, "client.created_from_lead")]
    assert created.after == {"email": "prospect@lead.test", "lead_id": lead.id, "language": "zh_Hans"}
    (conversion,) = [e for e in await audit_actions(db) if e.action == "crm.lead_converted"]
    assert conversion.before is not None
    assert conversion.after is not None
    assert (conversion.before["status"], conversion.after["status"]) == ("qualified", "converted")
    assert conversion.after["created_client"] is True


CSV_HEADER = "email,name,phone,country,language\n"


async def upload(staff: Any, body: str, owner: str) -> Any:
    token = csrf_from((await staff.get("/leads/import")).text)
    return await staff.post(
        "/leads/import",
        data={"_csrf_token": token, "owner_id": owner},
        files={"file": ("leads.csv", body.encode("utf-8"), "text/csv")},
        follow_redirects=False,
    )


async def test_csv_import_is_all_or_nothing_with_line_numbers(settings: Settings, db: Database) -> None:
    existing = await make_client(db, settings, "client@import.test")
    async with staff_client(settings, db, "importer@staff.test", ["support"]) as (staff, staff_id):
        await submit(
            staff, "/leads/new", "/leads/new", {"email": "old@import.test", "owner_id": str(staff_id)}
        )
        before = await count(db, Lead)
        bad = (
            CSV_HEADER
            + "ann@import.test,Ann,,DE,en\n"
            + "broken-address,Bob,,,\n"
            + "client@import.test,Cat,,,\n"
            + "old@import.test,Old,,,\n"
            + "ann@import.test,Ann again,,,\n"
            + "dee@import.test,Dee,12,,\n"
            + "eve@import.test,Eve,,,fr\n"
        )
        refused = await upload(staff, bad, str(staff_id))
        assert refused.status_code == 400
        lines = dict(re.findall(r'data-line="(\d+)"><td>\d+</td><td>([^<]+)</td>', refused.text))
        assert {k: html.unescape(v) for k, v in lines.items()} == {
            "3": "email: 'broken-address' is not an email address",
            "4": f"email: client@import.test is already client #{existing}",
            "5": f"email: old@import.test is already lead #{(await lead_by_email(db, 'old@import.test')).id}",
            "6": "email: ann@import.test is also on line 2",
            "7": "phone: '12' is not a phone number (digits, spaces, + - and brackets)",
            "8": "language: choose one of en, zh_Hans",
        }
        assert await count(db, Lead) == before
        for header, message in (
            ("name,phone\n", "the header row has no email column"),
            ("email,nickname\n", "unknown column(s) nickname"),
        ):
            wrong = await upload(staff, header + "x@import.test,1\n", str(staff_id))
            assert wrong.status_code == 400
            assert message in html.unescape(wrong.text)
        assert (await upload(staff, CSV_HEADER, str(staff_id))).status_code == 400
        huge = await upload(staff, CSV_HEADER + '"' + "a" * 140_000 + '"\n', str(staff_id))
        assert huge.status_code == 400
        assert "not readable as CSV (field larger than field limit" in html.unescape(huge.text)
        empty = await upload(staff, "", str(staff_id))
        assert empty.status_code == 400
        assert await count(db, Lead) == before

        good = CSV_HEADER + "ann@import.test,Ann,+49 30 123456,de,en\n\nbob@import.test,Bob,,,zh_Hans\n"
        done = await upload(staff, good, "")
        assert done.status_code == 303
        ann, bob = await lead_by_email(db, "ann@import.test"), await lead_by_email(db, "bob@import.test")
        assert (ann.source, ann.country, ann.owner_id, bob.language) == ("csv", "DE", None, "zh_Hans")
    (imported,) = [e for e in await audit_actions(db) if e.action == "crm.leads_imported"]
    assert imported.after == {"rows": 2, "owner_id": None, "lead_ids": [ann.id, bob.id]}


async def test_limited_staff_see_only_their_leads_over_http(settings: Settings, db: Database) -> None:
    async with (
        staff_client(settings, db, "alice@staff.test", ["support"]) as (alice, alice_id),
        staff_client(settings, db, "bob@staff.test", ["support"]) as (bob, bob_id),
        staff_client(settings, db, "carol@staff.test", ["support"]) as (_carol, carol_id),
    ):
        hers = await make_client(db, settings, "hers@client.test")
        theirs = await make_client(db, settings, "theirs@client.test")
        async with db.transaction() as session:
            await set_data_scope(session, SYSTEM, alice_id, "own", "")
            await set_data_scope(session, SYSTEM, bob_id, "team", "east")
            await set_data_scope(session, SYSTEM, carol_id, "team", "east")
            await assign_client(session, SYSTEM, hers, alice_id)
            await assign_client(session, SYSTEM, theirs, carol_id)
            for email, owner in (("a@lead.test", alice_id), ("c@lead.test", carol_id), ("n@lead.test", None)):
                session.add(Lead(email=email, source="manual", status="new", owner_id=owner))
        ids = {
            email: (await lead_by_email(db, email)).id
            for email in ("a@lead.test", "c@lead.test", "n@lead.test")
        }

        mine = await alice.get("/leads")
        assert re.findall(r'data-email="([^"]+)"', mine.text) == ["a@lead.test"]
        team = await bob.get("/leads")
        assert re.findall(r'data-email="([^"]+)"', team.text) == ["c@lead.test"]
        for path in (
            f"/leads/{ids['c@lead.test']}",
            f"/leads/{ids['c@lead.test']}/work",
            f"/leads/{ids['n@lead.test']}",
        ):
            assert (await alice.get(path)).status_code == 404, path
        assert (await bob.get(f"/leads/{ids['c@lead.test']}")).status_code == 200
        token = csrf_from((await alice.get("/leads")).text)
        for action, data in (("status", {"status": "contacted"}), ("owner", {"owner_id": str(alice_id)})):
            refused = await alice.post(
                f"/leads/{ids['c@lead.test']}/{action}",
                data={**data, "_csrf_token": token},
                follow_redirects=False,
            )
            assert refused.status_code == 404
        # a limited member can't give their lead away outside their reach either
        away = await alice.post(
            f"/leads/{ids['a@lead.test']}/owner", data={"owner_id": str(bob_id), "_csrf_token": token}
        )
        assert away.status_code == 400
        assert (await lead_by_email(db, "c@lead.test")).status == "new"
        assert (await lead_by_email(db, "a@lead.test")).owner_id == alice_id

        # the client work fragment follows the client scope
        assert (await alice.get(f"/clients/{hers}/work")).status_code == 200
        assert (await alice.get(f"/clients/{theirs}/work")).status_code == 404
        assert (await bob.get(f"/clients/{theirs}/work")).status_code == 200
        note = await alice.post(
            f"/clients/{theirs}/work/notes",
            data={"body": "peek", "_csrf_token": token},
            follow_redirects=False,
        )
        assert note.status_code == 404


async def test_pages_need_their_permissions(settings: Settings, db: Database) -> None:
    async with db.transaction() as session:
        session.add(Lead(email="x@lead.test", source="manual", status="new"))
    lead_id = (await lead_by_email(db, "x@lead.test")).id
    async with staff_client(settings, db, "reader@staff.test", ["read_only"]) as (reader, _id):
        for path in ("/leads", f"/leads/{lead_id}", f"/leads/{lead_id}/work", "/tasks"):
            page = await reader.get(path)
            assert page.status_code == 200, path
            assert "/convert" not in page.text
            assert "Add note" not in page.text
        for path in ("/leads/new", "/leads/import"):
            assert (await reader.get(path)).status_code == 403
        token = csrf_from((await reader.get("/leads")).text)
        for path in (
            "/leads/new",
            f"/leads/{lead_id}/status",
            f"/leads/{lead_id}/convert",
            f"/leads/{lead_id}/work/notes",
        ):
            refused = await reader.post(
                path, data={"_csrf_token": token, "email": "y@lead.test", "body": "x"}
            )
            assert refused.status_code == 403, path
    assert await count(db, Lead) == 1
    async with staff_client(settings, db, "nobody@staff.test", []) as (nobody, _id):
        for path in ("/leads", f"/leads/{lead_id}", "/tasks", f"/leads/{lead_id}/work"):
            assert (await nobody.get(path)).status_code == 403, path
    async with staff_client(settings, db, "boss@staff.test", ["admin"]) as (boss, _id):
        for path in ("/leads", "/leads/new", "/leads/import", f"/leads/{lead_id}", "/tasks"):
            assert (await boss.get(path)).status_code == 200, path


async def test_unfinished_registrations_become_leads_once(settings: Settings, db: Database) -> None:
    now = clock.utcnow()
    unverified = await make_client(db, settings, "unverified@client.test")
    no_kyc = await make_client(db, settings, "nokyc@client.test")
    no_deposit = await make_client(db, settings, "nodeposit@client.test")
    fresh = await make_client(db, settings, "fresh@client.test")
    linked = await make_client(db, settings, "handmade@client.test")
    async with db.transaction() as session:
        old = now - timedelta(days=5)
        await session.execute(
            update(User).where(User.id.in_([unverified, no_kyc, no_deposit, linked])).values(created_at=old)
        )
        await session.execute(update(User).where(User.id == unverified).values(email_verified_at=None))
        await session.execute(update(User).where(User.id == fresh).values(email_verified_at=None))
        session.add(KycCase(client_id=no_deposit, status=CaseStatus.APPROVED, level=KycLevel.FULL))
        session.add(Lead(email="handmade@client.test", source="manual", status="contacted"))
        staff = User(kind="staff", email="owner@staff.test", password_hash="x", created_at=now)
        session.add(staff)
        await session.flush()
        await assign_client(session, SYSTEM, no_kyc, staff.id)

    outcomes = []
    for _run in range(4):  # two clients a run: two runs do all, the others change nothing
        async with db.transaction() as session:
            result = await capture_unfinished_registrations(session, now, actor=SYSTEM, limit=2)
        outcomes.append((result.created, result.linked, result.refreshed))
    assert outcomes == [(2, 0, 0), (1, 1, 0), (0, 0, 0), (0, 0, 0)]
    async with db.session() as session:
        rows = {lead.email: lead for lead in await session.scalars(select(Lead))}
    assert {e: (r.source, r.registration_stage, r.client_id) for e, r in rows.items()} == {
        "unverified@client.test": ("registration", "email_unverified", unverified),
        "nokyc@client.test": ("registration", "kyc_unfinished", no_kyc),
        "nodeposit@client.test": ("registration", "no_deposit", no_deposit),
        "handmade@client.test": ("manual", "kyc_unfinished", linked),
    }
    assert rows["nokyc@client.test"].owner_id == staff.id
    assert rows["handmade@client.test"].status == "contacted"

    # the client verifies their email: the next run refreshes the stage, once
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == unverified).values(email_verified_at=now))
    for expected in (1, 0):
        async with db.transaction() as session:
            result = await capture_unfinished_registrations(session, now, actor=SYSTEM)
        assert result.refreshed == expected
    assert (await lead_by_email(db, "unverified@client.test")).registration_stage == "kyc_unfinished"
    actions = [e.action for e in await audit_actions(db) if e.action.startswith("crm.lead_")]
    assert sorted(actions) == sorted(
        ["crm.lead_captured"] * 3 + ["crm.lead_linked_to_registration", "crm.lead_refreshed"]
    )


async def test_converting_a_registration_lead_links_the_client(settings: Settings, db: Database) -> None:
    client = await make_client(db, settings, "signedup@client.test")
    async with db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == client)
            .values(email_verified_at=None, created_at=clock.utcnow() - timedelta(days=9))
        )
    async with db.transaction() as session:
        await capture_unfinished_registrations(session, clock.utcnow(), actor=SYSTEM)
    lead = await lead_by_email(db, "signedup@client.test")
    async with staff_client(settings, db, "closer@staff.test", ["support"]) as (staff, staff_id):
        page = f"/leads/{lead.id}"
        await submit(staff, page, f"{page}/owner", {"owner_id": str(staff_id)})
        for status in ("contacted", "qualified"):
            assert (await submit(staff, page, f"{page}/status", {"status": status})).status_code == 303
        assert (await submit(staff, page, f"{page}/convert", {})).status_code == 303
    lead = await lead_by_email(db, "signedup@client.test")
    assert (lead.status, lead.client_id) == ("converted", client)
    assert await count(db, User, User.kind == CLIENT) == 1
    assert await mails(db, "crm_invitation") == []
    (verification,) = await mails(db, "verify_email")  # they never verified: the link goes again
    assert verification.to_address == "signedup@client.test"
    async with db.session() as session:
        owner = await session.get(ClientOwner, client)
    assert owner is not None
    assert owner.owner_id == staff_id


async def test_lead_list_filters_search_and_pages(settings: Settings, db: Database) -> None:
    async with db.transaction() as session:
        for n in range(55):
            session.add(
                Lead(
                    email=f"lead{n:02d}@list.test",
                    name=f"Person {n:02d}",
                    source="csv" if n % 2 else "manual",
                    status="contacted" if n < 5 else "new",
                )
            )
    async with staff_client(settings, db, "lister@staff.test", ["support"]) as (staff, _id):
        first = await staff.get("/leads")
        emails = re.findall(r'data-email="([^"]+)"', first.text)
        assert len(emails) == 50
        assert emails[0] == "lead54@list.test"
        assert 'data-status="new">50<' in first.text
        assert 'data-status="contacted">5<' in first.text
        second = await staff.get("/leads?source=manual&page=2")
        assert re.findall(r'data-email="([^"]+)"', second.text) == []
        manual_p1 = await staff.get("/leads?source=manual")
        assert len(re.findall(r'data-email="', manual_p1.text)) == 28
        last = await staff.get("/leads?page=2")
        assert re.findall(r'data-email="([^"]+)"', last.text) == [
            f"lead{n:02d}@list.test" for n in range(4, -1, -1)
        ]
        assert 'href="/leads?page=1"' in last.text
        assert 'href="/leads?q=list.test&amp;page=2"' in (await staff.get("/leads?q=list.test")).text
        found = await staff.get("/leads?q=PERSON+07")
        assert re.findall(r'data-email="([^"]+)"', found.text) == ["lead07@list.test"]
        contacted = await staff.get("/leads?status=contacted&q=list.test")
        assert len(re.findall(r'data-email="', contacted.text)) == 5
