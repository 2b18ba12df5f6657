"""The IB portal's JSON API: the same figures as the pages, the same writes with the same checks,
and every route in the OpenAPI schema."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core.db import Database
from core.settings import Settings
from ib.models import Allocation, Payout
from tests.helpers import csrf_from
from tests.integration.ib.portal_world import seed, signed_in_as


async def csrf_header(browser: AsyncTestClient) -> dict[str, str]:
    return {"x-csrftoken": csrf_from((await browser.get("/ib/links")).text)}


async def test_read_api_answers_the_hand_worked_figures(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    a, b = world.partner("A"), world.partner("B")
    async with signed_in_as(portal_client.app, "A") as browser:
        dashboard = (await browser.get("/api/v1/ib/dashboard")).json()
        network = (await browser.get("/api/v1/ib/network")).json()
        clients = (await browser.get("/api/v1/ib/clients")).json()
        client = (await browser.get(f"/api/v1/ib/clients/{world.users['Y']}")).json()
        deals = (await browser.get("/api/v1/ib/deals", params={"symbol": "EURUSD"})).json()
        lines = (await browser.get("/api/v1/ib/commissions", params={"level": 1})).json()
        first = lines["items"][0]
        one = (await browser.get(f"/api/v1/ib/commissions/{first['deal_id']}/{first['rule_id']}")).json()
        stats = (
            await browser.get("/api/v1/ib/statistics", params={"start": "2026-10-01", "period": "month"})
        ).json()
        bad = await browser.get("/api/v1/ib/commissions", params={"level": "first"})
    assert dashboard["today"] == [{"key": "USD", "currency": "USD", "amount": 1600, "lines": 2}]
    assert dashboard["this_month"][0]["amount"] == 1600
    assert [(t["key"], t["amount"]) for t in dashboard["month_by_level"]] == [("1", 1400), ("2", 200)]
    assert (dashboard["sub_ibs"], dashboard["clients"]) == (1, 2)
    nodes = {node["partner_id"]: node for node in network["nodes"]}
    assert set(nodes) == {a, b}
    assert (nodes[a]["parent_id"], str(nodes[a]["own_lots"]), str(nodes[a]["branch_lots"])) == (
        None,
        "2",
        "3",
    )
    assert (nodes[b]["parent_id"], str(nodes[b]["own_lots"])) == (a, "1")
    assert clients["total"] == 3
    assert {c["client_id"] for c in clients["items"]} == {
        world.users["X"],
        world.users["Y"],
        world.users["B"],
    }
    assert client["email"] == "y***@example.test"
    assert client["accounts"] == [
        {"server": "mt5-live", "login": world.login("Y"), "account_type": "standard", "currency": "USD"}
    ]
    assert client["earned"] == {"USD": 1400}
    assert deals["total"] == 2
    assert {d["ticket"] for d in deals["items"]} == {9001, 9004}
    assert lines["total"] == 2
    assert lines["totals"] == [{"key": "USD", "currency": "USD", "amount": 2100, "lines": 2}]
    assert {(line["ticket"], line["amount"]) for line in lines["items"]} == {(9002, 1400), (9004, 700)}
    assert [one["deal_id"], one["rule_id"], one["amount"]] == [first["deal_id"], first["rule_id"], 1400]
    assert one["scheme"] == "Standard"
    assert one["scheme_version"] == 1
    assert one["rule_code"] == "fixed"
    assert one["level"] == 1
    assert one["formula"]
    assert one["inputs"]
    assert [(t["key"], t["amount"]) for t in stats["by_level"]] == [("1", 2100), ("2", 200)]
    assert [(t["key"], t["amount"]) for t in stats["by_symbol"]] == [("EURUSD", 900), ("XAUUSD", 1400)]
    assert sum(t["amount"] for t in stats["by_period"]) == 2300
    assert bad.status_code == 400


async def test_write_api_allocations_links_and_payouts(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    world = await seed(db, settings)
    b = world.partner("B")
    async with signed_in_as(portal_client.app, "A") as browser:
        headers = await csrf_header(browser)
        too_much = await browser.post(
            "/api/v1/ib/allocations", json={"sub_ib": b, "rule": "fixed", "amount": "9.00"}, headers=headers
        )
        wrong_type = await browser.post(
            "/api/v1/ib/allocations", json={"sub_ib": "bob", "rule": "fixed", "amount": "1"}, headers=headers
        )
        set_rate = await browser.post(
            "/api/v1/ib/allocations", json={"sub_ib": b, "rule": "fixed", "amount": "3"}, headers=headers
        )
        rates = (await browser.get("/api/v1/ib/allocations")).json()
        link = await browser.post("/api/v1/ib/links", json={"campaign": "video"}, headers=headers)
        links = (await browser.get("/api/v1/ib/links")).json()
        qr = await browser.get(link.json()["qr_url"])
        no_key = await browser.post("/api/v1/ib/payouts", headers=headers)
        keyed = {**headers, "Idempotency-Key": "portal-api-payout-0001"}
        paid = await browser.post("/api/v1/ib/payouts", headers=keyed)
        replay = await browser.post("/api/v1/ib/payouts", headers=keyed)
        payouts = (await browser.get("/api/v1/ib/payouts")).json()
        no_csrf = await browser.post("/api/v1/ib/links", json={"campaign": "forged"})
    assert too_much.status_code == 400
    assert too_much.json()["detail"] == "You hold 7.00 USD per lot under fixed; you can't give 9.00 USD."
    assert wrong_type.status_code == 400
    assert set_rate.status_code == 201
    assert set_rate.json()["amount_per_lot"] == 300
    assert rates["rates"] == [{"rule_code": "fixed", "own_per_lot": 700, "given": {str(b): 300}}]
    assert link.status_code == 201
    assert link.json()["campaign"] == "video"
    assert link.json()["url"].endswith(f"/r/{link.json()['code']}")
    assert [item["code"] for item in links] == [link.json()["code"]]
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert no_key.status_code == 400
    assert "idempotency key" in no_key.json()["detail"]
    assert paid.status_code == 201
    assert [(p["amount"], p["status"]) for p in paid.json()] == [(2300, "paid")]
    assert replay.status_code == 201
    assert replay.json() == paid.json()
    assert payouts["may_request"] is True
    assert payouts["payable"] == [{"currency": "USD", "available": 0, "reserved": 0}]
    assert [p["id"] for p in payouts["payouts"]] == [paid.json()[0]["id"]]
    assert no_csrf.status_code == 403
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Payout)) == 1
        assert await session.scalar(select(func.count()).select_from(Allocation)) == 1


async def test_ib_api_is_in_the_openapi_schema(portal_client: AsyncTestClient) -> None:
    schema = (await portal_client.get("/api/schema/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/v1/ib/dashboard",
        "/api/v1/ib/network",
        "/api/v1/ib/clients",
        "/api/v1/ib/clients/{client_id}",
        "/api/v1/ib/deals",
        "/api/v1/ib/commissions",
        "/api/v1/ib/commissions/{deal_id}/{rule_id}",
        "/api/v1/ib/statistics",
        "/api/v1/ib/allocations",
        "/api/v1/ib/links",
        "/api/v1/ib/payouts",
    ):
        assert path in paths, path
    parameters = {p["name"] for p in paths["/api/v1/ib/commissions"]["get"]["parameters"]}
    assert {"start", "end", "level", "symbol", "client", "page", "per_page"} <= parameters
    assert "post" in paths["/api/v1/ib/payouts"]
    assert not any(path.startswith("/ib") for path in paths)  # the pages stay out of the schema
