"""Per-IB data isolation over HTTP (issue #8 point 11): an IB sees its own network and nothing else,
by page, by API or by guessing ids; a sub-IB doesn't see its parent's clients; a client with no IB
profile, or nobody signed in, gets nothing."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core import clock
from core.db import Database
from core.settings import Settings
from ib import attribution
from ib.engine import process_deals
from ib.hierarchy import tree_at
from ib.models import CommissionLine, Payout, ReferralLink
from ib.payouts import pay_out
from tests.helpers import make_client
from tests.integration.ib.portal_world import EMAILS, seed, signed_in_as
from tests.integration.ib.world import SERVER, STAFF, build_world, deal

IB_PAGES = (
    "/ib/network",
    "/ib/clients",
    "/ib/deals",
    "/ib/commissions",
    "/ib/commissions.csv",
    "/ib/statistics",
    "/ib/allocations",
    "/ib/links",
    "/ib/payouts",
)
IB_API = (
    "/api/v1/ib/dashboard",
    "/api/v1/ib/network",
    "/api/v1/ib/clients",
    "/api/v1/ib/deals",
    "/api/v1/ib/commissions",
    "/api/v1/ib/statistics",
    "/api/v1/ib/allocations",
    "/api/v1/ib/links",
    "/api/v1/ib/payouts",
)


async def test_an_ib_never_sees_another_network(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    async with db.transaction() as session:
        carol_link = await attribution.create_link(
            session, world.partner("C"), campaign="carol", actor=STAFF, now=world.today
        )
    await pay_out(db, world.partner("C"))
    async with db.session() as session:
        carol_payout = await session.scalar(select(Payout).where(Payout.partner_id == world.partner("C")))
    assert carol_payout is not None
    carol_lines = await world.line_paths("C")
    z = world.users["Z"]
    async with signed_in_as(portal_client.app, "A") as browser:
        # By page: C's client, deal, line, link and payout appear nowhere.
        clients = (await browser.get("/ib/clients")).text
        deals = (await browser.get("/ib/deals")).text
        lines_csv = (await browser.get("/ib/commissions.csv")).text
        links = (await browser.get("/ib/links")).text
        payouts = (await browser.get("/ib/payouts")).text
        network = (await browser.get("/ib/network")).text
        # By guessing ids.
        guessed = [
            await browser.get(f"/ib/clients/{z}"),
            await browser.get(f"/ib/commissions/{carol_lines[0]}"),
            await browser.get(f"/ib/links/{carol_link.id}/qr.svg"),
            await browser.get(f"/api/v1/ib/clients/{z}"),
            await browser.get(f"/api/v1/ib/commissions/{carol_lines[0]}"),
        ]
        # By filtering for them.
        z_deals = (await browser.get("/api/v1/ib/deals", params={"client": z})).json()
        z_lines = (await browser.get("/api/v1/ib/commissions", params={"client": z})).json()
        api_links = (await browser.get("/api/v1/ib/links")).json()
        api_payouts = (await browser.get("/api/v1/ib/payouts")).json()
        api_network = (await browser.get("/api/v1/ib/network")).json()
    assert f'data-client="{z}"' not in clients
    assert "z***@" not in clients
    assert 'data-ticket="9003"' not in deals
    assert "9003" not in lines_csv
    assert carol_link.code not in links
    assert "7.00 USD" not in payouts  # C's payout of 700
    assert f'data-partner="{world.partner("C")}"' not in network
    for answer in guessed:
        assert answer.status_code == 404, answer.request.url
    assert guessed[3].json()["status_code"] == 404
    assert z_deals["total"] == 0
    assert z_lines["total"] == 0
    assert api_links == []
    assert api_payouts["payouts"] == []
    assert world.partner("C") not in {node["partner_id"] for node in api_network["nodes"]}
    async with db.session() as session:
        assert (await session.get(ReferralLink, carol_link.id)) is not None  # it exists, just not for A


async def test_a_sub_ib_sees_its_branch_not_its_parent_s(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    a_lines = await world.line_paths("A")
    y = world.users["Y"]
    async with signed_in_as(portal_client.app, "B") as browser:
        clients = (await browser.get("/api/v1/ib/clients")).json()
        own_client = await browser.get(f"/ib/clients/{world.users['X']}")
        parent_client = await browser.get(f"/ib/clients/{y}")
        parent_as_client = await browser.get(f"/api/v1/ib/clients/{world.users['A']}")
        parent_line = await browser.get(f"/api/v1/ib/commissions/{a_lines[0]}")
        deals = (await browser.get("/api/v1/ib/deals")).json()
        network = (await browser.get("/api/v1/ib/network")).json()
        dashboard = (await browser.get("/api/v1/ib/dashboard")).json()
    assert [c["client_id"] for c in clients["items"]] == [world.users["X"]]
    assert own_client.status_code == 200
    assert parent_client.status_code == 404
    assert parent_as_client.status_code == 404
    assert parent_line.status_code == 404
    assert [d["ticket"] for d in deals["items"]] == [9001]
    assert [node["partner_id"] for node in network["nodes"]] == [world.partner("B")]
    assert dashboard["today"][0]["amount"] == 700


async def test_two_ibs_paid_on_one_deal_under_one_rule_each_read_their_own_line(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    """A line is named by deal and rule, the IB being its beneficiary: where one per-level rule pays
    both the sub-IB (level 1) and its parent (level 2) on the same deal, the same URL shows each of
    them their own line, never the other's."""
    users = {person: await make_client(db, settings, EMAILS[person]) for person in "ABX"}
    levels = {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [300, 100]}}
    world = await build_world(
        db,
        rules=[levels],
        ibs=[("A", users["A"], None, None), ("B", users["B"], "A", None)],
        clients={users["X"]: "B"},
    )
    await process_deals(db, SERVER, [deal(9001, users["X"] + 5000, lots="2", time=clock.utcnow())])
    async with db.session() as session:
        keys = (await session.execute(select(CommissionLine.deal_id, CommissionLine.rule_id))).all()
    assert len(keys) == 2
    assert keys[0] == keys[1]
    deal_id, rule_id = keys[0]
    seen = {}
    for person in "AB":
        async with signed_in_as(portal_client.app, person) as browser:
            answer = (await browser.get(f"/api/v1/ib/commissions/{deal_id}/{rule_id}")).json()
            page = (await browser.get(f"/ib/commissions/{deal_id}/{rule_id}")).text
        seen[person] = (answer["level"], answer["amount"], "6.00 USD" in page, "2.00 USD" in page)
    assert world.ids["A"] != world.ids["B"]
    assert seen == {"B": (1, 600, True, False), "A": (2, 200, False, True)}


async def test_a_client_without_an_ib_profile_gets_nothing(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    async with signed_in_as(portal_client.app, "X") as browser:  # a referred client, not an IB
        home = await browser.get("/ib", follow_redirects=False)
        pages = [await browser.get(path, follow_redirects=False) for path in IB_PAGES]
        apis = [await browser.get(path) for path in IB_API]
        line = await browser.get(f"/api/v1/ib/commissions/{(await world.line_paths('A'))[0]}")
    assert home.status_code == 303
    assert home.headers["location"] == "/ib/apply"
    for answer in pages + apis + [line]:
        assert answer.status_code == 404, answer.request.url
    assert "introducing brokers" in pages[0].text
    assert apis[0].json() == {"status_code": 404, "detail": "This page is for introducing brokers."}


async def test_nobody_signed_in_is_sent_to_sign_in(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    await seed(db, settings)
    page = await portal_client.get("/ib/commissions", follow_redirects=False)
    api = await portal_client.get("/api/v1/ib/commissions")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=")
    assert api.status_code == 401


async def test_a_branch_of_the_tree_holds_only_its_own_ibs_and_clients(
    db: Database, settings: Settings
) -> None:
    world = await seed(db, settings)
    async with db.session() as session:
        [b_branch] = await tree_at(session, world.today, under=world.partner("B"))
        [a_branch] = await tree_at(session, world.today, under=world.partner("A"))
        nobody = await tree_at(session, world.today, under=999_999)
    assert (b_branch.partner_id, b_branch.clients, b_branch.children) == (
        world.partner("B"),
        [world.users["X"]],
        [],
    )
    assert [node.partner_id for node, _depth in a_branch.walk()] == [world.partner("A"), world.partner("B")]
    assert a_branch.clients == [world.users["Y"]]
    assert nobody == []
