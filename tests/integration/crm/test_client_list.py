"""The client list over HTTP: search, filters, order, totals, pages, CSV, bad input, segments,
bulk assignment, and data-scope isolation for limited staff."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

from sqlalchemy import select

from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from crm.client_search import ClientFilter, parse_filter, search_clients
from crm.models import ClientOwner, Segment
from crm.scope import data_scope_of
from tests.helpers import csrf_from
from tests.integration.crm.clients_world import build, signed_in

ROW = re.compile(r'<tr class="client-row" data-id="(\d+)">')


def row_ids(page: str) -> list[int]:
    return [int(x) for x in ROW.findall(page)]


def total(page: str) -> int:
    match = re.search(r'<strong class="client-total">(\d+)</strong>', page)
    assert match, page
    return int(match.group(1))


async def test_search_box_finds_clients_by_each_kind_of_key(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    w = await build(db, settings, tmp_path)
    async with signed_in(settings, db, w.admin) as browser:
        everything = await browser.get("/clients")
        assert everything.status_code == 200
        assert total(everything.text) == 5
        assert set(row_ids(everything.text)) == w.all_clients
        for q, expected in (
            ("schmidt", [w.anna]),  # KYC last name
            ("MULLER", [w.anna]),  # a former last name
            ("anna@client", [w.anna]),  # email
            ("+49 170 123", [w.anna]),  # phone, typed with spaces
            (str(700001), [w.anna]),  # trading login
            (str(w.sam), [w.sam]),  # client id
            ("golden", [w.li]),  # the referral code of the IB who referred her
            (str(w.ivy_partner), [w.li]),  # IB partner number
            ("li wei", [w.li]),  # every word must match
            ("LI", [w.li]),  # a short word matches a whole name, not "li" inside "client"
            ("partner.example", [w.tom, w.ivy]),
            ("100%", []),  # LIKE wildcards are literal
            ("nobody-like-this", []),
        ):
            page = await browser.get("/clients", params={"q": q})
            assert page.status_code == 200, q
            assert sorted(row_ids(page.text)) == sorted(expected), q
            assert total(page.text) == len(expected), q


async def test_filters_order_and_bad_input(db: Database, settings: Settings, tmp_path: Path) -> None:
    w = await build(db, settings, tmp_path)
    async with signed_in(settings, db, w.admin) as browser:
        for params, expected in (
            ({"kyc": "approved"}, {w.anna}),
            ({"kyc": "submitted"}, {w.li}),
            ({"kyc": "none"}, {w.ivy, w.tom, w.sam}),
            ({"risk": "high"}, {w.li}),
            ({"risk": "low"}, {w.anna}),
            ({"country": "DE"}, {w.anna}),
            ({"country": "at"}, set()),  # only the latest profile counts
            ({"funded": "yes"}, {w.anna}),
            ({"funded": "no"}, {w.li, w.ivy, w.tom, w.sam}),
            ({"ib": str(w.ivy_partner)}, {w.li}),
            ({"tag": str(w.vip)}, {w.anna}),
            ({"owner": str(w.alice.id)}, {w.anna}),
            ({"owner": "none"}, {w.tom, w.sam}),
            ({"funded": "no", "owner": "none", "q": "tom"}, {w.tom}),
        ):
            page = await browser.get("/clients", params=params)
            assert page.status_code == 200, params
            assert set(row_ids(page.text)) == expected, params
        newest = row_ids((await browser.get("/clients")).text)
        oldest = row_ids((await browser.get("/clients", params={"sort": "oldest"})).text)
        assert newest == sorted(w.all_clients, reverse=True)
        assert oldest == list(reversed(newest))
        for params, field in (
            ({"kyc": "bogus"}, "kyc"),
            ({"ib": "abc"}, "ib"),
            ({"country": "Germany"}, "country"),
            ({"funded": "maybe"}, "funded"),
            ({"sort": "sideways"}, "sort"),
        ):
            refused = await browser.get("/clients", params=params)
            assert refused.status_code == 400, params
            assert f'data-field="{field}"' in refused.text
            assert 'class="client-row"' not in refused.text
        refused_csv = await browser.get("/clients/export.csv", params={"tag": "x"})
        assert refused_csv.status_code == 400


async def test_pages_keep_a_stable_order_and_the_total(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    w = await build(db, settings, tmp_path)
    async with db.session() as session:
        scope = await data_scope_of(session, w.admin.id)
        seen: list[int] = []
        for page in range(3):
            result = await search_clients(session, scope, ClientFilter(), page=page, per_page=2)
            assert result.total == 5
            assert result.pages == 3
            seen += [row.id for row in result.rows]
        assert seen == sorted(w.all_clients, reverse=True)
        assert not result.has_more
        rows = (await search_clients(session, scope, parse_filter({"q": "anna"}))).rows
    anna = rows[0]
    assert (anna.name, anna.country, anna.kyc_status, anna.risk, anna.funded, anna.owner_email) == (
        "Anna Schmidt",
        "DE",
        "approved",
        "low",
        True,
        "alice@staff.test",
    )
    assert [tag.name for tag in anna.tags] == ["VIP"]


async def test_csv_export_holds_the_filtered_rows_and_is_audited(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    w = await build(db, settings, tmp_path)
    async with signed_in(settings, db, w.admin) as browser:
        response = await browser.get("/clients/export.csv", params={"funded": "no", "owner": "none"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {int(r["client_id"]) for r in rows} == {w.tom, w.sam}
    async with db.session() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "crm.clients_exported"))
    assert event is not None
    assert event.actor_id == w.admin.id
    assert event.after == {"filters": "funded=no&owner=none", "rows": 2, "scope": "all"}


async def test_segments_save_open_share_and_delete(db: Database, settings: Settings, tmp_path: Path) -> None:
    w = await build(db, settings, tmp_path)
    async with signed_in(settings, db, w.admin) as browser:
        page = await browser.get("/clients", params={"funded": "no"})
        token = csrf_from(page.text)
        refused = await browser.post(
            "/clients/segments",
            data={"_csrf_token": token, "name": "  ", "funded": "no"},
            follow_redirects=False,
        )
        assert refused.status_code == 400
        assert 'data-field="name"' in refused.text
        saved = await browser.post(
            "/clients/segments",
            data={"_csrf_token": token, "name": "Never funded", "funded": "no", "shared": "1"},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        private = await browser.post(
            "/clients/segments",
            data={"_csrf_token": token, "name": "Mine", "kyc": "approved"},
            follow_redirects=False,
        )
        assert private.status_code == 303
        opened = await browser.get(saved.headers["location"], follow_redirects=False)
        assert opened.status_code == 303
        assert opened.headers["location"].startswith("/clients/?funded=no&segment=")
        listed = await browser.get(opened.headers["location"])
        assert set(row_ids(listed.text)) == {w.li, w.ivy, w.tom, w.sam}
        assert "Never funded" in listed.text
        assert "Mine" in listed.text
    async with db.session() as session:
        segments = {s.name: s for s in await session.scalars(select(Segment))}
        events = list(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("crm.segment%")))
        )
    assert segments["Never funded"].query == "funded=no"
    assert segments["Never funded"].shared
    assert events == ["crm.segment_saved", "crm.segment_saved"]
    async with signed_in(settings, db, w.alice) as browser:
        page = await browser.get("/clients")
        assert "Never funded" in page.text
        assert "Mine" not in page.text
        shared = await browser.get(f"/clients/segments/{segments['Never funded'].id}")
        assert shared.status_code == 200
        assert row_ids(shared.text) == []  # Alice's only client, Anna, is funded
        assert (await browser.get(f"/clients/segments/{segments['Mine'].id}")).status_code == 404
        not_hers = await browser.post(
            f"/clients/segments/{segments['Never funded'].id}/delete",
            data={"_csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert not_hers.status_code == 404
    async with signed_in(settings, db, w.admin) as browser:
        page = await browser.get("/clients")
        deleted = await browser.post(
            f"/clients/segments/{segments['Mine'].id}/delete",
            data={"_csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert deleted.status_code == 303
    async with db.session() as session:
        assert {s.name for s in await session.scalars(select(Segment))} == {"Never funded"}


async def _owners(db: Database) -> dict[int, int]:
    async with db.session() as session:
        return {row.client_id: row.owner_id for row in await session.scalars(select(ClientOwner))}


async def test_bulk_assignment_from_the_list(db: Database, settings: Settings, tmp_path: Path) -> None:
    w = await build(db, settings, tmp_path)
    async with signed_in(settings, db, w.admin) as browser:
        page = await browser.get("/clients")
        token = csrf_from(page.text)
        assigned = await browser.post(
            "/clients/assign",
            data={
                "_csrf_token": token,
                "client_ids": [str(w.tom), str(w.sam)],
                "owner": str(w.bob.id),
                "back": "owner=none",
            },
            follow_redirects=False,
        )
        assert assigned.status_code == 303
        assert assigned.headers["location"] == "/clients/?owner=none"
        none_ticked = await browser.post(
            "/clients/assign", data={"_csrf_token": token, "owner": str(w.bob.id)}, follow_redirects=False
        )
        assert none_ticked.status_code == 400
        to_a_client = await browser.post(
            "/clients/assign",
            data={"_csrf_token": token, "client_ids": [str(w.sam)], "owner": str(w.anna)},
            follow_redirects=False,
        )
        assert to_a_client.status_code == 400
        unassign = await browser.post(
            "/clients/assign",
            data={"_csrf_token": token, "client_ids": [str(w.sam)], "owner": "none"},
            follow_redirects=False,
        )
        assert unassign.status_code == 303
    owners = await _owners(db)
    assert owners[w.tom] == w.bob.id
    assert w.sam not in owners
    async with db.session() as session:
        events = [
            (e.target_id, e.before, e.after)
            for e in await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "crm.client_assigned", AuditEvent.actor_id == w.admin.id)
                .order_by(AuditEvent.id)
            )
        ]
    assert events == [
        (str(w.tom), {"owner_id": None}, {"owner_id": w.bob.id}),
        (str(w.sam), {"owner_id": None}, {"owner_id": w.bob.id}),
        (str(w.sam), {"owner_id": w.bob.id}, {"owner_id": None}),
    ]


async def test_limited_staff_see_only_their_clients_everywhere(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    w = await build(db, settings, tmp_path)
    before = await _owners(db)
    async with signed_in(settings, db, w.alice) as browser:
        page = await browser.get("/clients")
        assert row_ids(page.text) == [w.anna]
        assert total(page.text) == 1
        assert row_ids((await browser.get("/clients", params={"q": "li@client"})).text) == []
        assert row_ids((await browser.get("/clients", params={"owner": str(w.bob.id)})).text) == []
        exported = await browser.get("/clients/export.csv")
        assert [int(r["client_id"]) for r in csv.DictReader(io.StringIO(exported.text))] == [w.anna]
        assert (await browser.get(f"/clients/{w.anna}")).status_code == 200
        token = csrf_from(page.text)
        for client_id in (w.li, w.sam, 999_999):
            assert (await browser.get(f"/clients/{client_id}")).status_code == 404
            for action, data in (
                (f"/clients/{client_id}/tags", {"tag_id": str(w.vip)}),
                (f"/clients/{client_id}/tags/{w.vip}/remove", {}),
                (f"/clients/{client_id}/owner", {"owner": str(w.alice.id)}),
            ):
                answer = await browser.post(
                    action, data={"_csrf_token": token, **data}, follow_redirects=False
                )
                assert answer.status_code == 404, action
        bulk = await browser.post(
            "/clients/assign",
            data={"_csrf_token": token, "client_ids": [str(w.anna), str(w.li)], "owner": str(w.alice.id)},
            follow_redirects=False,
        )
        assert bulk.status_code == 404
    assert await _owners(db) == before
    async with signed_in(settings, db, w.bob) as browser:
        page = await browser.get("/clients")
        assert set(row_ids(page.text)) == {w.li, w.ivy}  # his and Carol's: team east
        assert (await browser.get(f"/clients/{w.ivy}")).status_code == 200
        assert (await browser.get(f"/clients/{w.anna}")).status_code == 404
    async with db.session() as session:
        tagged = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "crm.client_tagged", AuditEvent.actor_id == w.alice.id
            )
        )
    assert tagged is None


async def test_client_pages_need_clients_read(db: Database, settings: Settings, tmp_path: Path) -> None:
    w = await build(db, settings, tmp_path)
    async with signed_in(settings, db, w.reader) as browser:
        assert (await browser.get("/clients")).status_code == 200
        assert (await browser.get(f"/clients/{w.anna}")).status_code == 200
        assert (await browser.get("/clients/export.csv")).status_code == 200
        page = await browser.get(f"/clients/{w.anna}")
        assert f'action="/clients/{w.anna}/owner"' not in page.text  # no clients.assign
        assert f'action="/clients/{w.anna}/tags"' not in page.text  # no clients.edit
        assert (await browser.get("/clients/tags")).status_code == 403
        answer = await browser.post(
            f"/clients/{w.anna}/tags", data={"_csrf_token": csrf_from(page.text), "tag_id": str(w.vip)}
        )
        assert answer.status_code == 403
    async with signed_in(settings, db, w.nobody) as browser:
        for path in ("/clients", f"/clients/{w.anna}", "/clients/export.csv", "/clients/tags"):
            assert (await browser.get(path)).status_code == 403, path


async def test_the_list_speaks_chinese(db: Database, settings: Settings, tmp_path: Path) -> None:
    w = await build(db, settings, tmp_path)
    async with signed_in(settings, db, w.admin) as browser:
        page = await browser.get("/clients")
        switched = await browser.post(
            "/language",
            data={"_csrf_token": csrf_from(page.text), "language": "zh_Hans", "next": "/clients"},
            follow_redirects=False,
        )
        assert switched.status_code == 303
        text = html.unescape((await browser.get("/clients")).text)
        assert "<h1>客户</h1>" in text
        assert "保存为客户分组" in text
        detail = html.unescape((await browser.get(f"/clients/{w.anna}")).text)
        assert "交易账户" in detail
        assert "时间线" in detail
