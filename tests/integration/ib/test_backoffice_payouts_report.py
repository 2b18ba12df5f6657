"""Held payouts (release moves commission payable to the IB's wallet; reject needs a reason and
gives the money back to payable), the IB report with its CSV, and the scheme simulator page,
whose output is exactly what ``brokerdesk ib simulate`` prints for the same scenario."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from ib import payouts
from ib.engine import process_deals
from ib.ledger_accounts import wallet_account
from ib.models import Payout
from ledger.reading import get_balance
from tests.helpers import submit
from tests.integration.ib.staff_desk import IB_MANAGER, data_rows, flashes, post_form, sign_in_ib_manager
from tests.integration.ib.world import DAY1, SERVER, STAFF, World, build_world, deal

pytestmark = pytest.mark.asyncio

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}
LEVELS = {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 200]}}
END = DAY1 + timedelta(days=10)
EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "ib-scenario.json"
BROKERDESK = str(Path(sys.executable).with_name("brokerdesk"))


async def held_for_review(db: Database) -> tuple[World, Payout]:
    """A (client 9001) ← B; A's policy holds payouts for review; A earns 1400 (2 lots of its own client)."""
    world = await build_world(
        db,
        rules=[FIXED, LEVELS],
        ibs=[("A", 9001, None, None), ("B", 9002, "A", None)],
        clients={100: "B", 101: "A"},
    )
    async with db.transaction() as session:
        await payouts.set_policy(
            session, world.ids["A"], frequency="monthly", hold_for_review=True, actor=STAFF, now=DAY1
        )
    await process_deals(db, SERVER, [deal(1, 5101, lots="2")])
    [held] = await payouts.run_scheduled(db, "monthly", now=END)
    assert (held.amount, held.status) == (1400, "held")
    return world, held


async def wallet_of(db: Database, client_id: int) -> int:
    async with db.transaction() as session:
        account = await wallet_account(session, client_id, "USD")
    return (await get_balance(db, account)).posted


async def test_releasing_a_held_payout_moves_payable_to_the_wallet(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world, held = await held_for_review(db)
    await sign_in_ib_manager(backoffice_client, db, settings)
    queue = await backoffice_client.get("/ib/payouts")
    assert data_rows(queue.text, "payout-row") == [{"id": str(held.id), "status": "held"}]
    assert "14.00 USD" in queue.text
    assert await wallet_of(db, 9001) == 0
    page = await post_form(
        backoffice_client, "/ib/payouts", f"/ib/payouts/{held.id}/release", {"reason": "ok"}
    )
    assert flashes(page.text) == ["Payout released to the IB's wallet."]
    assert await wallet_of(db, 9001) == 1400
    assert await world.payable("A") == 0
    async with db.session() as session:
        payout = await session.get(Payout, held.id)
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "ib.payout_approved"))
    assert payout is not None
    assert (payout.status, payout.decided_by) == ("paid", "staff:" + str(event.actor_id if event else ""))
    assert event is not None
    assert event.actor_email == IB_MANAGER
    assert event.ip
    # Releasing it again is refused and pays nothing more.
    again = await post_form(backoffice_client, "/ib/payouts", f"/ib/payouts/{held.id}/release", {})
    assert flashes(again.text) == [f"payout {held.id} is paid, not held"]
    assert await wallet_of(db, 9001) == 1400
    paid = await backoffice_client.get("/ib/payouts?status=paid")
    assert data_rows(paid.text, "payout-row") == [{"id": str(held.id), "status": "paid"}]


async def test_rejecting_a_held_payout_needs_a_reason_and_returns_the_money_to_payable(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world, held = await held_for_review(db)
    await sign_in_ib_manager(backoffice_client, db, settings)
    no_reason = await post_form(
        backoffice_client, "/ib/payouts", f"/ib/payouts/{held.id}/reject", {"reason": ""}
    )
    assert flashes(no_reason.text) == ["Give a reason for the rejection."]
    async with db.session() as session:
        still = await session.get(Payout, held.id)
    assert still is not None
    assert still.status == "held"
    page = await post_form(
        backoffice_client, "/ib/payouts", f"/ib/payouts/{held.id}/reject", {"reason": "wash trading"}
    )
    assert flashes(page.text) == ["Payout rejected; the money is back in the IB's commission payable."]
    assert await wallet_of(db, 9001) == 0
    assert await world.payable("A") == 1400
    async with db.session() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "ib.payout_rejected"))
    assert event is not None
    assert event.after is not None
    assert event.after["reason"] == "wash trading"
    assert event.actor_email == IB_MANAGER


async def test_the_ib_report_by_period_and_level_with_csv(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await build_world(
        db,
        rules=[FIXED, LEVELS],
        ibs=[("A", 9001, None, None), ("B", 9002, "A", None)],
        clients={100: "B", 101: "A"},
    )
    a, b = world.ids["A"], world.ids["B"]
    # 2 Nov: B's client 1 lot (B 700 at level 1, A 200 at level 2); 3 Nov: A's client 2 lots (A 1400).
    # 1 Dec: B's client 1 lot again, outside a November report.
    await process_deals(
        db,
        SERVER,
        [
            deal(1, 5100, lots="1"),
            deal(2, 5101, lots="2", time=DAY1 + timedelta(days=1)),
            deal(3, 5100, lots="1", time=DAY1 + timedelta(days=29)),
        ],
    )
    await sign_in_ib_manager(backoffice_client, db, settings)
    month = await backoffice_client.get("/ib/report?from=2026-11-01&to=2026-11-30&by=month")
    rows = {
        (int(r["partner"]), int(r["level"])): int(r["amount"]) for r in data_rows(month.text, "report-row")
    }
    assert rows == {(a, 1): 1400, (a, 2): 200, (b, 1): 700}
    totals = {int(r["partner"]): int(r["amount"]) for r in data_rows(month.text, "total-row")}
    assert totals == {a: 1600, b: 700}
    by_day = await backoffice_client.get(f"/ib/report?from=2026-11-01&to=2026-12-31&by=day&partner={a}")
    assert "2026-11-02" in by_day.text
    assert "2026-11-03" in by_day.text
    assert {int(r["partner"]) for r in data_rows(by_day.text, "report-row")} == {a}
    export = await backoffice_client.get("/ib/report/export.csv?from=2026-11-01&to=2026-12-31&by=month")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    records = list(csv.DictReader(io.StringIO(export.text)))
    assert [
        (int(r["partner_id"]), r["period"], int(r["level"]), int(r["lines"]), int(r["amount"]))
        for r in records
    ] == [
        (a, "2026-11", 1, 1, 1400),
        (a, "2026-11", 2, 1, 200),
        (a, "2026-12", 2, 1, 200),
        (b, "2026-11", 1, 1, 700),
        (b, "2026-12", 1, 1, 700),
    ]
    bad = await backoffice_client.get("/ib/report?from=someday")
    assert bad.status_code == 200
    assert "The start date must be a date like 2026-11-02" in html.unescape(bad.text)
    async with db.session() as session:
        exported = await session.scalar(select(AuditEvent).where(AuditEvent.action == "ib.report_exported"))
    assert exported is not None
    assert exported.actor_email == IB_MANAGER
    assert exported.after is not None
    assert exported.after["rows"] == 5


async def run_cli(path: Path) -> subprocess.CompletedProcess[str]:
    """The real ``brokerdesk ib simulate`` command, as staff would run it in a shell."""
    command = [BROKERDESK, "ib", "simulate", str(path)]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)


def page_output(page: str) -> str:
    match = re.search(r'<pre id="simulation-output">(.*?)</pre>', page, re.S)
    assert match, "no simulation output on the page"
    return html.unescape(match.group(1)) + "\n"


async def test_the_simulator_page_shows_what_the_cli_prints(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings, tmp_path: Path
) -> None:
    await sign_in_ib_manager(backoffice_client, db, settings)
    command = await run_cli(EXAMPLE)
    assert command.returncode == 0, command.stderr
    expected = command.stdout
    pasted = await submit(
        backoffice_client, "/ib/simulator", "/ib/simulator", {"scenario": EXAMPLE.read_text()}
    )
    assert pasted.status_code == 200
    assert page_output(pasted.text) == expected
    totals = {r["ib"]: int(r["total"]) for r in data_rows(pasted.text, "sim-total")}
    assert set(totals) == {"Alice", "Bob", "Carol"}
    token = re.search(r'name="_csrf_token" value="([^"]+)"', pasted.text)
    assert token
    uploaded = await backoffice_client.post(
        "/ib/simulator",
        data={"_csrf_token": token.group(1), "scenario": ""},
        files={"file": ("scenario.json", EXAMPLE.read_bytes(), "application/json")},
    )
    assert uploaded.status_code == 200
    assert page_output(uploaded.text) == expected
    bad = await submit(
        backoffice_client, "/ib/simulator", "/ib/simulator", {"scenario": '{"deals": [], "oops": 1}'}
    )
    assert bad.status_code == 400
    assert "unknown scenario keys: oops" in bad.text
    broken = tmp_path / "broken.json"
    broken.write_text('{"deals": [], "oops": 1}')
    cli = await run_cli(broken)
    assert cli.returncode == 2
    assert "unknown scenario keys: oops" in cli.stderr
    async with db.session() as session:
        runs = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "ib.scenario_simulated"))
        )
    assert len(runs) == 2
    assert {run.actor_email for run in runs} == {IB_MANAGER}


async def test_payout_decisions_are_rate_limited(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    _world, held = await held_for_review(db)
    await sign_in_ib_manager(backoffice_client, db, settings)
    for _ in range(10):
        page = await post_form(backoffice_client, "/ib/payouts", "/ib/payouts/999999/release", {})
        assert flashes(page.text) == ["no payout 999999"]
    limited = await post_form(backoffice_client, "/ib/payouts", f"/ib/payouts/{held.id}/release", {})
    assert flashes(limited.text) == ["Too many requests. Please wait a minute and try again."]
    assert await wallet_of(db, 9001) == 0


async def test_staff_set_an_ibs_payout_policy(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world, _held = await held_for_review(db)
    b = world.ids["B"]
    await sign_in_ib_manager(backoffice_client, db, settings)
    form = {"partner": str(b), "frequency": "daily", "minimum_amount": "2500", "hold_for_review": "1"}
    saved = await post_form(backoffice_client, "/ib/payouts", "/ib/payouts/policy", form)
    assert flashes(saved.text) == ["Payout policy saved."]
    policies = {row["partner"]: row for row in data_rows(saved.text, "policy-row")}
    assert policies[str(b)] == {"partner": str(b), "frequency": "daily", "minimum": "2500", "hold": "1"}
    for bad, message in [
        ({**form, "frequency": "weekly"}, "frequency must be one of instant, daily, monthly"),
        ({**form, "minimum_amount": "-5"}, "The minimum payout must be a whole number."),
    ]:
        page = await post_form(backoffice_client, "/ib/payouts", "/ib/payouts/policy", bad)
        assert flashes(page.text) == [message]
    unchanged = {row["partner"]: row for row in data_rows(page.text, "policy-row")}
    assert unchanged[str(b)]["frequency"] == "daily"
    async with db.session() as session:
        event = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "ib.payout_policy_set", AuditEvent.actor_email == IB_MANAGER
            )
        )
    assert event is not None
    assert event.after == {"frequency": "daily", "minimum": 2500, "hold": True}
