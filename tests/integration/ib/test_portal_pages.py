"""The IB portal's pages through the real portal app, with figures from deals run through the engine
(see :mod:`tests.integration.ib.portal_world` for the hand-worked amounts)."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from ib.ledger_accounts import wallet_account
from ib.models import Allocation, Application, Payout, PayoutPolicy, ReferralLink
from ledger.reading import get_balance
from tests.helpers import csrf_from
from tests.integration.cashier.web import post_form
from tests.integration.ib.portal_world import seed, signed_in_as


def part(html: str, pattern: str) -> str:
    """The first group (or the whole match) of ``pattern`` in a page, which must be there."""
    match = re.search(pattern, html, re.S)
    assert match, f"page has no {pattern}"
    return match.group(match.lastindex or 0)


def row(html: str, css_class: str, attribute: str, value: object) -> str:
    match = re.search(rf'<tr class="{css_class}[^"]*" {attribute}="{value}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no {css_class} row with {attribute}={value}"
    return match.group(1)


async def test_dashboard_shows_today_this_month_and_levels(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    await seed(db, settings)
    async with signed_in_as(portal_client.app, "A") as browser:
        page = await browser.get("/ib")
    assert page.status_code == 200
    assert "16.00 USD" in part(page.text, r'id="today">.*?</section>')
    assert "16.00 USD" in part(page.text, r'id="month">.*?</section>')
    assert "14.00 USD" in row(page.text, "level-row", "data-level", 1)
    assert "2.00 USD" in row(page.text, "level-row", "data-level", 2)
    assert "1 sub-IB ·" in page.text
    assert "2 referred clients" in page.text
    assert 'href="/ib"' in page.text  # the portal's navigation leads IBs here


async def test_network_tree_shows_volume_per_node(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    async with signed_in_as(portal_client.app, "A") as browser:
        this_month = (await browser.get("/ib/network")).text
        all_time = (await browser.get("/ib/network", params={"start": "2026-10-01"})).text
    a, b, c = world.partner("A"), world.partner("B"), world.partner("C")
    # This month: Y closed 2 lots (A's own client), X 1 lot (B's); A's branch holds both.
    assert f'data-partner="{a}" data-own-lots="2" data-branch-lots="3"' in this_month
    assert f'data-partner="{b}" data-own-lots="1" data-branch-lots="1"' in this_month
    assert f'data-partner="{c}"' not in this_month
    assert f'data-partner="{a}" data-own-lots="3" data-branch-lots="4"' in all_time


async def test_clients_and_their_accounts(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    x, y, z = world.users["X"], world.users["Y"], world.users["Z"]
    async with signed_in_as(portal_client.app, "A") as browser:
        page = (await browser.get("/ib/clients")).text
        detail = await browser.get(f"/ib/clients/{y}")
    y_row = row(page, "client-row", "data-client", y)
    assert "y***@example.test" in y_row
    assert "yasmin@" not in page  # addresses are masked
    assert f"{world.login('Y')} (standard, USD)" in y_row
    assert "14.00 USD" in y_row  # what Y earned A this month
    assert row(page, "client-row", "data-client", x)  # B's client is in A's network
    b_row = row(page, "client-row", "data-client", world.users["B"])  # so is the sub-IB itself
    assert "sub-IB" in b_row
    assert f"IB #{world.partner('A')}" in b_row  # under A
    assert f'data-client="{z}"' not in page
    assert detail.status_code == 200
    assert str(world.login("Y")) in detail.text
    assert "14.00 USD" in detail.text


async def test_deals_are_the_network_s_paginated_and_filtered(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    async with signed_in_as(portal_client.app, "A") as browser:
        everything = (await browser.get("/ib/deals")).text
        gold = (await browser.get("/ib/deals", params={"symbol": "xauusd"})).text
        paged = (await browser.get("/ib/deals", params={"per_page": 2, "page": 2})).text
        bad = await browser.get("/ib/deals", params={"start": "02/11/2026"})
    for ticket in (9001, 9002, 9004):
        assert f'data-ticket="{ticket}"' in everything
    assert 'data-ticket="9003"' not in everything  # C's client
    assert "3 rows, page 1 of 1" in everything
    assert 'data-ticket="9002"' in gold
    assert 'data-ticket="9001"' not in gold
    assert "3 rows, page 2 of 2" in paged
    assert paged.count('class="deal-row') == 1
    assert 'rel="prev"' in paged
    assert bad.status_code == 400
    assert "YYYY-MM-DD" in bad.text
    assert world.tickets["Y last month"] == 9004


async def test_commission_lines_with_provenance_filters_and_csv(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    async with signed_in_as(portal_client.app, "A") as browser:
        everything = (await browser.get("/ib/commissions")).text
        level_two = (await browser.get("/ib/commissions", params={"level": 2})).text
        by_client = (await browser.get("/ib/commissions", params={"client": world.users["Y"]})).text
        exported = await browser.get("/ib/commissions.csv", params={"symbol": "EURUSD"})
        [first_line, *_rest] = await world.line_paths("A")
        detail = (await browser.get(f"/ib/commissions/{first_line}")).text
    assert "23.00 USD" in part(everything, r'id="total">(.*?)</p>')
    assert "3 rows" in everything
    assert "Standard v1" in everything
    assert "2.00 USD" in part(level_two, r'id="total">(.*?)</p>')
    assert "levels (per_level)" in level_two
    assert "21.00 USD" in part(by_client, r'id="total">(.*?)</p>')
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted((r["ticket"], r["rule"], r["level"], r["amount_minor"]) for r in rows) == [
        ("9001", "levels", "2", "200"),
        ("9004", "fixed", "1", "700"),
    ]
    assert all(r["scheme"] == "Standard" and r["scheme_version"] == "1" and r["formula"] for r in rows)
    assert "Inputs" in detail
    assert "input-row" in detail


async def test_statistics_page_carries_chart_data_without_inline_script(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    async with signed_in_as(portal_client.app, "A") as browser:
        page = await browser.get("/ib/statistics", params={"start": "2026-10-01", "period": "month"})
        script = await browser.get("/static/ib/statistics.js")
        chart = await browser.get("/static/vendor/chart.umd.min.js")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    executable = [body for attrs, body in scripts if 'type="application/json"' not in attrs]
    assert all(not body.strip() for body in executable)  # nothing inline runs
    chart_data = json.loads(part(page.text, r'id="ib-chart-data">(.*?)</script>'))
    assert chart_data["level"]["labels"] == ["1", "2"]
    assert chart_data["level"]["datasets"][0]["minor"] == [2100, 200]
    assert chart_data["symbol"]["labels"] == ["EURUSD", "XAUUSD"]
    assert chart_data["symbol"]["datasets"][0]["minor"] == [900, 1400]
    assert sum(chart_data["period"]["datasets"][0]["minor"]) == 2300
    months = chart_data["period"]["labels"]
    assert months[0] == "2026-10"
    assert months[-1] == f"{world.today:%Y-%m}"
    assert len(months) == len(set(months))  # every month once, quiet ones at zero
    assert "21.00 USD" in row(page.text, "stat-row", "data-key", 1)
    assert script.status_code == 200
    assert chart.status_code == 200


async def test_sub_ib_allocation_is_limited_with_a_clear_message(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    b = world.partner("B")
    async with signed_in_as(portal_client.app, "A") as browser:
        page = (await browser.get("/ib/allocations")).text
        assert "7.00 USD" in row(page, "rate-row", "data-rule", "fixed")
        too_much = await post_form(
            browser, "/ib/allocations", "/ib/allocations", {"sub_ib": b, "rule": "fixed", "amount": "8.00"}
        )
        not_mine = await post_form(
            browser,
            "/ib/allocations",
            "/ib/allocations",
            {"sub_ib": world.partner("C"), "rule": "fixed", "amount": "1.00"},
        )
        garbage = await post_form(
            browser, "/ib/allocations", "/ib/allocations", {"sub_ib": b, "rule": "fixed", "amount": "lots"}
        )
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Allocation)) == 0
        done = await post_form(
            browser, "/ib/allocations", "/ib/allocations", {"sub_ib": b, "rule": "fixed", "amount": "5.00"}
        )
        after = (await browser.get("/ib/allocations")).text
    assert too_much.status_code == 400
    assert "You hold 7.00 USD per lot under fixed; you can't give 8.00 USD." in unescape(too_much.text)
    assert not_mine.status_code == 400
    assert "Choose one of your direct sub-IBs." in not_mine.text
    assert garbage.status_code == 400
    assert "as a number" in garbage.text
    assert done.status_code == 303
    assert f'data-sub-ib="{b}">5.00 USD' in after
    async with db.session() as session:
        allocation = await session.scalar(select(Allocation))
    assert allocation is not None
    assert (allocation.giver_id, allocation.receiver_id, allocation.amount_per_lot) == (
        world.partner("A"),
        b,
        500,
    )
    # B, given 5.00, can't give its own sub-IB more than that either: it has none, so no form.
    async with signed_in_as(portal_client.app, "B") as browser:
        b_page = (await browser.get("/ib/allocations")).text
    assert "5.00 USD" in row(b_page, "rate-row", "data-rule", "fixed")
    assert "You have no direct sub-IB yet." in b_page


async def test_referral_links_count_clicks_and_serve_their_qr(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    await seed(db, settings)
    async with signed_in_as(portal_client.app, "A") as browser:
        created = await post_form(browser, "/ib/links", "/ib/links", {"campaign": "forum  2026"})
        too_long = await post_form(browser, "/ib/links", "/ib/links", {"campaign": "x" * 65})
        async with db.session() as session:
            link = await session.scalar(select(ReferralLink))
        assert link is not None
        qr = await browser.get(f"/ib/links/{link.id}/qr.svg")
    assert created.status_code == 303
    assert too_long.status_code == 400
    assert "at most 64 characters" in too_long.text
    assert link.campaign == "forum 2026"
    assert qr.status_code == 200
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.text.startswith("<svg")
    async with AsyncTestClient(app=portal_client.app) as visitor:
        first = await visitor.get(f"/r/{link.code.lower()}", follow_redirects=False)
        again = await visitor.get(f"/r/{link.code}", follow_redirects=False)
        unknown = await visitor.get("/r/NOSUCHCODE", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == f"/register?ref={link.code}"
    assert again.headers["location"] == f"/register?ref={link.code}"
    assert unknown.headers["location"] == "/register"
    async with signed_in_as(portal_client.app, "A") as browser:
        page = (await browser.get("/ib/links")).text
    link_row = row(page, "link-row", "data-link", link.id)
    assert '<td class="clicks">1</td>' in link_row  # one visitor within the hour counts once
    assert "forum 2026" in link_row
    assert f"/r/{link.code}" in link_row
    assert f'src="/ib/links/{link.id}/qr.svg"' in link_row


async def test_payout_request_pays_once_through_the_ledger(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    async with signed_in_as(portal_client.app, "A") as browser:
        page = (await browser.get("/ib/payouts")).text
        assert "23.00 USD" in page
        token = csrf_from(page)
        key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
        assert key
        form = {"_csrf_token": token, "idempotency_key": key.group(1)}
        paid = await browser.post("/ib/payouts", data=form, follow_redirects=False)
        replay = await browser.post("/ib/payouts", data=form, follow_redirects=False)
        after = (await browser.get("/ib/payouts")).text
    assert paid.status_code == 303
    assert replay.status_code == 303  # the same request again: the same payout, nothing more
    async with db.transaction() as session:
        payouts = (await session.scalars(select(Payout))).all()
        wallet = await wallet_account(session, world.users["A"], "USD")
    assert [(p.partner_id, p.amount, p.status) for p in payouts] == [(world.partner("A"), 2300, "paid")]
    assert (await get_balance(db, wallet)).posted == 2300
    assert await world.world.payable("A") == 0
    assert 'data-status="paid"' in after
    assert 'action="/ib/payouts"' not in after  # nothing left to ask for
    async with db.session() as session:
        paid_event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "ib.payout_paid"))
    assert paid_event is not None
    assert (paid_event.actor_kind, paid_event.actor_id) == ("client", world.users["A"])
    # B is paid daily by its policy: it can't ask, and the form isn't offered.
    async with db.transaction() as session:
        session.add(PayoutPolicy(partner_id=world.partner("B"), frequency="daily", minimum_amount=0))
    async with signed_in_as(portal_client.app, "B") as browser:
        b_page = (await browser.get("/ib/payouts")).text
        refused = await browser.post(
            "/ib/payouts",
            data={"_csrf_token": csrf_from(b_page), "idempotency_key": "k" * 24},
            follow_redirects=False,
        )
    assert 'action="/ib/payouts"' not in b_page
    assert "paid daily" in b_page
    assert refused.status_code == 400
    assert "paid daily" in refused.text
    assert await world.world.payable("B") == 700


async def test_a_client_applies_to_become_an_ib(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    async with signed_in_as(portal_client.app, "N") as browser:
        home = await browser.get("/ib", follow_redirects=False)
        form = await browser.get("/ib/apply")
        sent = await post_form(browser, "/ib/apply", "/ib/apply", {"message": "I run a trading forum"})
        again = await browser.post(
            "/ib/apply",
            data={"_csrf_token": csrf_from(form.text), "message": "twice"},
            follow_redirects=False,
        )
        status = (await browser.get("/ib/apply")).text
    assert home.status_code == 303
    assert home.headers["location"] == "/ib/apply"
    assert 'name="_csrf_token"' in form.text
    assert sent.status_code == 303
    assert again.status_code == 400
    assert "already have an application" in again.text
    assert 'data-status="pending"' in status
    async with db.session() as session:
        applications = (await session.scalars(select(Application))).all()
    mine = [a for a in applications if a.client_id == world.users["N"]]
    assert [(a.status, a.message) for a in mine] == [("pending", "I run a trading forum")]
    async with signed_in_as(portal_client.app, "A") as browser:
        assert (await browser.get("/ib/apply", follow_redirects=False)).headers["location"] == "/ib"


async def test_every_ib_form_carries_csrf_and_a_post_without_it_is_refused(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    async with signed_in_as(portal_client.app, "A") as browser:
        for path in ("/ib/allocations", "/ib/links", "/ib/payouts"):
            html = (await browser.get(path)).text
            forms = re.findall(r'<form[^>]*method="post"[^>]*>(.*?)</form>', html, re.S)
            assert forms, path
            assert all('name="_csrf_token"' in body for body in forms), path
        forged = await browser.post("/ib/links", data={"campaign": "forged"}, follow_redirects=False)
        forged_payout = await browser.post("/ib/payouts", data={"idempotency_key": "k" * 24})
    assert forged.status_code == 403
    assert forged_payout.status_code == 403
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ReferralLink)) == 0
        assert await session.scalar(select(func.count()).select_from(Payout)) == 0
    assert await world.world.payable("A") == 2300


async def test_ib_pages_speak_simplified_chinese(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    await seed(db, settings)
    async with signed_in_as(portal_client.app, "A") as browser:
        browser.cookies.set("bd_lang", "zh_Hans")
        page = (await browser.get("/ib")).text
        lines = (await browser.get("/ib/commissions")).text
    assert "合作伙伴仪表板" in page
    assert "今日佣金" in page
    assert "16.00 USD" in page
    assert "佣金明细" in lines
    assert "1 个下级 IB" in page
