"""The dashboard: each queue a staff member may work on, with its size, the age of its oldest item
and a link to it; queues outside the staff member's permissions are neither shown nor counted."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from backoffice.pages import TILES, age_text
from core.clock import utcnow
from core.db import Database
from core.dead_letters import FailedMessage, record_dead_letter
from core.settings import Settings
from risk.alerts import raise_alerts
from risk.rules import Finding
from tests.helpers import make_staff, staff_sign_in
from tests.integration.reports import seed as s

pytestmark = pytest.mark.asyncio

TILE = re.compile(
    r'<a class="card tile[^"]*" href="([^"]+)" data-tile="([^"]+)" data-count="(\d+)">(.*?)</a>', re.S
)


def expected_counts() -> dict[str, int]:
    cases = [case for _, _, case in s.CLIENTS.values() if case]
    return {
        "kyc": sum(1 for case in cases if case[0] in ("submitted", "awaiting_second_review")),
        "deposits": sum(1 for d in s.DEPOSITS if d[7] == "awaiting_review"),
        "withdrawals": sum(
            1 for w in s.WITHDRAWALS if w[6] in ("pending_approval", "awaiting_second_approval")
        ),
        "bank_accounts": 0,
        "transfers": 0,
        "account_approvals": 1,
        "leverage_changes": 0,
        "ib_applications": 0,
        "payout_holds": 0,
        "reconciliation": len(s.DIFFERENCES),
        "failed_commands": 1,
        "dead_letters": 1,
        "risk_alerts": 2,
    }


async def tiles_for(
    db: Database, settings: Settings, client: AsyncTestClient, roles: list[str]
) -> dict[str, tuple[str, int, str]]:
    email = f"{'-'.join(roles)}@staff.test"
    _, secret = await make_staff(db, settings, email, roles)
    assert secret
    await staff_sign_in(client, email, secret)
    page = await client.get("/")
    assert page.status_code == 200
    return {
        key: (link, int(count), html.unescape(body)) for link, key, count, body in TILE.findall(page.text)
    }


async def seed_all(db: Database, tmp_path: Path) -> None:
    await s.seed(db, tmp_path)
    await record_dead_letter(db, FailedMessage("m-1", "default", "core.send_mail", (1,), {}, 8, "SMTPError"))
    now = utcnow()
    async with db.transaction() as session:
        for days_ago, rule in ((3, "large_deposit"), (1, "shared_ip")):
            finding = Finding(rule, f"subject-{rule}", "k", "seeded", client_ids=())
            await raise_alerts(session, [finding], now - timedelta(days=days_ago))


async def test_admin_sees_every_queue_with_counts_ages_and_links(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient, tmp_path: Path
) -> None:
    await seed_all(db, tmp_path)
    asked = utcnow()
    tiles = await tiles_for(db, settings, backoffice_client, ["admin"])
    answered = utcnow()
    assert {key: count for key, (_, count, _) in tiles.items()} == expected_counts()
    assert {key: link for key, (link, _, _) in tiles.items()} == {tile.key: tile.link for tile in TILES}
    # the oldest KYC case waiting (c7, awaiting a second reviewer) was submitted at 10:00 UTC ten
    # days ago: nine days and some hours before 10:00 UTC today, ten days after
    ages = {age_text(int((moment - s.at(10, 10, 0)).total_seconds())) for moment in (asked, answered)}
    assert any(f"Oldest waits {age}" in tiles["kyc"][2] for age in ages), (ages, tiles["kyc"][2])
    assert "Nothing waiting" in tiles["bank_accounts"][2]
    assert "Failed bridge commands" in tiles["failed_commands"][2]
    assert "Oldest waits 3 d" in tiles["risk_alerts"][2]


async def test_finance_sees_only_finance_queues(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient, tmp_path: Path
) -> None:
    await seed_all(db, tmp_path)
    tiles = await tiles_for(db, settings, backoffice_client, ["finance"])
    assert set(tiles) == {"deposits", "withdrawals", "bank_accounts", "transfers"}
    assert tiles["deposits"][1] == expected_counts()["deposits"]


async def test_compliance_sees_kyc_and_staff_without_queues_see_none(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient, tmp_path: Path
) -> None:
    await seed_all(db, tmp_path)
    tiles = await tiles_for(db, settings, backoffice_client, ["compliance"])
    assert set(tiles) == {"kyc", "risk_alerts"}
    assert tiles["risk_alerts"][1] == 2


async def test_read_only_staff_get_an_empty_dashboard(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient
) -> None:
    _, secret = await make_staff(db, settings, "ro@staff.test", ["read_only"])
    assert secret
    await staff_sign_in(backoffice_client, "ro@staff.test", secret)
    page = await backoffice_client.get("/")
    assert page.status_code == 200
    assert "No queues for your role." in page.text
    assert 'data-tile="' not in page.text


async def test_dashboard_needs_dashboard_view(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient
) -> None:
    _, secret = await make_staff(db, settings, "none@staff.test", [])
    assert secret
    await staff_sign_in(backoffice_client, "none@staff.test", secret)
    assert (await backoffice_client.get("/", follow_redirects=False)).status_code == 403


async def test_ages_read_as_people_say_them() -> None:
    assert age_text(None) == ""
    assert age_text(125) == "2 min"
    assert age_text(5 * 3600 + 10) == "5 h"
    assert age_text(3 * 86_400 + 4 * 3600) == "3 d 4 h"
