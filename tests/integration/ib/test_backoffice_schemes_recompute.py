"""Schemes and ranks pages, and the recompute tool: a new version with every rule kind and its
conditions is stored as a draft; bad input is refused with its message and writes nothing; a
dry run of a draft shows the per-IB diff worked by hand below, and publishing posts exactly that
difference to the ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core import jobs
from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from ib import recompute
from ib.engine import process_deals
from ib.models import Rank, Rule, Scheme, SchemeVersion
from tests.helpers import submit
from tests.integration.ib.staff_desk import IB_MANAGER, data_rows, flashes, post_form, sign_in_ib_manager
from tests.integration.ib.world import DAY1, SERVER, World, build_world, deal

pytestmark = pytest.mark.asyncio

FIXED = {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}}
LEVELS = {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 200]}}
END = DAY1 + timedelta(days=10)


async def two_levels(db: Database) -> World:
    # A (client 9001) ← B (client 9002); client 100 is B's, client 101 is A's.
    return await build_world(
        db,
        rules=[FIXED, LEVELS],
        ibs=[("A", 9001, None, None), ("B", 9002, "A", None)],
        clients={100: "B", 101: "A"},
    )


def rule_fields(rules: list[dict[str, str]]) -> dict[str, str]:
    return {f"rule-{n}-{name}": value for n, rule in enumerate(rules) for name, value in rule.items()}


EVERY_KIND = [
    {
        "code": "fx",
        "kind": "fixed",
        "symbol_group": "forex",
        "params": '{"amount_per_lot": 800}',
        "min_hold_seconds": "120",
        "cap_per_day": "5000",
        "account_types": "standard, pro",
    },
    {
        "code": "levels",
        "kind": "per_level",
        "params": '{"amounts_per_lot": [0, 300, 100]}',
        "include_own_trades": "1",
    },
    {
        "code": "ranks",
        "kind": "rank_differential",
        "params": '{"increments_per_lot": {"bronze": 300, "gold": 100}}',
        "cap_per_month": "90000",
    },
    {
        "code": "spread",
        "kind": "spread_share",
        "symbol": "EURUSD",
        "params": '{"spread_points": "12", "percent": "50"}',
    },
    {
        "code": "platform",
        "kind": "platform_commission_share",
        "account_type": "pro",
        "params": '{"percent": "25"}',
    },
    {"code": "profit", "kind": "profit_share", "params": '{"percent": "10", "basis": "loss"}'},
    {"code": "override", "kind": "overriding", "params": '{"percent": "12.5"}'},
    {"code": "cpa", "kind": "cpa", "params": '{"amount": 5000, "min_first_deposit": 10000, "min_lots": "1"}'},
]


async def version_count(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(SchemeVersion)) or 0)


async def test_a_new_version_with_every_rule_kind_and_condition_is_a_draft(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await two_levels(db)
    await sign_in_ib_manager(backoffice_client, db, settings)
    form_page = f"/ib/schemes/{world.scheme_id}/versions/new"
    prefilled = await backoffice_client.get(form_page)
    assert 'value="fixed"' in prefilled.text  # starts from the current version's rules
    response = await submit(
        backoffice_client,
        form_page,
        f"/ib/schemes/{world.scheme_id}/versions",
        {"effective_from": "2026-12-01", **rule_fields(EVERY_KIND)},
    )
    assert response.status_code == 303, response.text
    overview = await backoffice_client.get(response.headers["location"])
    assert flashes(overview.text) == ["Version 2 saved as a draft."]
    async with db.session() as session:
        version = await session.scalar(select(SchemeVersion).where(SchemeVersion.version == 2))
        assert version is not None
        rules = {
            r.code: r for r in await session.scalars(select(Rule).where(Rule.scheme_version_id == version.id))
        }
        event = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "ib.scheme_version_added")
            .order_by(AuditEvent.id.desc())
        )
    assert version.status == "draft"
    assert {r.kind for r in rules.values()} == {
        "fixed",
        "per_level",
        "rank_differential",
        "spread_share",
        "platform_commission_share",
        "profit_share",
        "overriding",
        "cpa",
    }
    assert rules["fx"].symbol_group == "forex"
    assert rules["fx"].params == {"amount_per_lot": 800}
    assert rules["fx"].conditions == {
        "min_hold_seconds": 120,
        "include_own_trades": False,
        "cap_per_day": 5000,
        "account_types": ["pro", "standard"],
    }
    assert rules["levels"].conditions == {"min_hold_seconds": 0, "include_own_trades": True}
    assert rules["ranks"].conditions["cap_per_month"] == 90000
    assert (rules["spread"].symbol, rules["platform"].account_type) == ("EURUSD", "pro")
    assert event is not None
    assert event.actor_email == IB_MANAGER
    # The overview lists the draft with a publish button, and the ranks with their increments.
    assert [row for row in data_rows(overview.text, "rank-row")] == [
        {"rank": "bronze"},
        {"rank": "silver"},
        {"rank": "gold"},
    ]
    assert f'action="/ib/schemes/versions/{version.id}/publish"' in overview.text
    published = await post_form(
        backoffice_client, "/ib/schemes", f"/ib/schemes/versions/{version.id}/publish", {}
    )
    assert flashes(published.text) == ["Version published."]
    assert f'data-version="{version.id}" data-status="published"' in published.text
    again = await post_form(
        backoffice_client, "/ib/schemes", f"/ib/schemes/versions/{version.id}/publish", {}
    )
    assert flashes(again.text) == [f"scheme version {version.id} is already published"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"code": "fx", "kind": "fixed", "params": '{"amount_per_lot": "lots"}'},
            "rule fx: amount_per_lot must be a non-negative integer of minor units",
        ),
        (
            {"code": "fx", "kind": "fixed", "params": "{amount_per_lot: 1}"},
            "rule fx: parameters are not valid JSON",
        ),
        (
            {"code": "pc", "kind": "profit_share", "params": '{"percent": 12.5}'},
            "rule pc: write decimals as strings, never floats",
        ),
        (
            {"code": "pc", "kind": "profit_share", "params": '{"percent": "150"}'},
            "rule pc: percent must be between 0 and 100",
        ),
        ({"code": "lv", "kind": "per_level", "params": "{}"}, "rule lv: missing amounts_per_lot"),
        (
            {"code": "fx", "kind": "fixed", "params": '{"amount_per_lot": 1}', "cap_per_day": "ten"},
            "rule fx: cap per day must be a whole non-negative number",
        ),
        ({"code": "xx", "kind": "bonus", "params": "{}"}, "rule xx: unknown kind 'bonus'"),
    ],
)
async def test_a_bad_version_is_refused_with_its_message_and_nothing_is_written(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings, rule: dict[str, str], message: str
) -> None:
    world = await two_levels(db)
    await sign_in_ib_manager(backoffice_client, db, settings)
    before = await version_count(db)
    response = await submit(
        backoffice_client,
        f"/ib/schemes/{world.scheme_id}/versions/new",
        f"/ib/schemes/{world.scheme_id}/versions",
        {"effective_from": "2026-12-01", **rule_fields([rule])},
    )
    assert response.status_code == 400
    assert message in response.text.replace("&#39;", "'")
    assert f'value="{rule["code"]}"' in response.text  # what was typed is shown again
    assert await version_count(db) == before


async def test_schemes_and_ranks_are_created_and_duplicates_refused(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await two_levels(db)
    await sign_in_ib_manager(backoffice_client, db, settings)
    made = await post_form(
        backoffice_client, "/ib/schemes", "/ib/schemes", {"name": "VIP", "currency": "usd"}
    )
    assert flashes(made.text) == ["Scheme created."]
    again = await post_form(
        backoffice_client, "/ib/schemes", "/ib/schemes", {"name": "VIP", "currency": "USD"}
    )
    assert flashes(again.text) == ["A scheme named 'VIP' exists already."]
    rank = await post_form(
        backoffice_client,
        "/ib/schemes",
        "/ib/schemes/ranks",
        {"code": "Platinum", "name": "Platinum", "position": "4"},
    )
    assert flashes(rank.text) == ["Rank created."]
    clash = await post_form(
        backoffice_client,
        "/ib/schemes",
        "/ib/schemes/ranks",
        {"code": "diamond", "name": "D", "position": "4"},
    )
    assert flashes(clash.text) == ["Rank 'platinum' already has that code or position."]
    async with db.session() as session:
        assert await session.scalar(select(Scheme.currency).where(Scheme.name == "VIP")) == "USD"
        assert await session.scalar(select(Rank.position).where(Rank.code == "platinum")) == 4
        assert await session.scalar(select(Rank.code).where(Rank.code == "diamond")) is None
        actions = set(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.actor_email == IB_MANAGER))
        )
    assert {"ib.scheme_created", "ib.rank_created"} <= actions


async def test_dry_run_shows_the_per_ib_diff_and_publish_posts_exactly_it(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings, sent_jobs: list[jobs.Job]
) -> None:
    world = await two_levels(db)
    a, b = world.ids["A"], world.ids["B"]
    # Published rules (700 a lot fixed; level 2 gets 200 a lot):
    #   deal 1, B's client 100, 1 lot: B 700, A 200;   deal 2, A's client 101, 2 lots: A 1400.
    await process_deals(db, SERVER, [deal(1, 5100, lots="1"), deal(2, 5101, lots="2")])
    assert await world.payables() == {"B": 700, "A": 1600}
    await sign_in_ib_manager(backoffice_client, db, settings)
    # Draft from the same date: 800 a lot fixed, 300 a lot at level 2.
    #   deal 1: B 800 (+100), A 300 (+100);   deal 2: A 1600 (+200).   So B 700 → 800, A 1600 → 1900.
    draft = await submit(
        backoffice_client,
        f"/ib/schemes/{world.scheme_id}/versions/new",
        f"/ib/schemes/{world.scheme_id}/versions",
        {
            "effective_from": "2026-10-01",
            **rule_fields(
                [
                    {"code": "fixed", "kind": "fixed", "params": '{"amount_per_lot": 800}'},
                    {"code": "levels", "kind": "per_level", "params": '{"amounts_per_lot": [0, 300]}'},
                ]
            ),
        },
    )
    assert draft.status_code == 303, draft.text
    async with db.session() as session:
        draft_id = await session.scalar(select(SchemeVersion.id).where(SchemeVersion.status == "draft"))
    tool = await backoffice_client.get(f"/ib/recompute?draft={draft_id}")
    assert f'<option value="{draft_id}" selected>' in tool.text
    dry = await submit(
        backoffice_client,
        "/ib/recompute",
        "/ib/recompute",
        {
            "period_start": "2026-10-01",
            "period_end": END.date().isoformat(),
            "draft_version_id": str(draft_id),
        },
    )
    assert dry.status_code == 303
    run_id = int(dry.headers["location"].rsplit("/", 1)[1])
    computing = await backoffice_client.get(dry.headers["location"])
    assert 'class="run-status">Computing' in computing.text
    assert "diff-row" not in computing.text
    assert "/publish" not in computing.text  # nothing to publish until the dry run is computed
    assert jobs.Job("ib.compute_dry_run", (run_id,)) in sent_jobs
    # The worker runs the job (ib.compute_dry_run calls exactly this); a second delivery does nothing.
    await recompute.compute_dry_run(db, run_id)
    await recompute.compute_dry_run(db, run_id)
    run_page = await backoffice_client.get(dry.headers["location"])
    diff = {int(row["partner"]): row for row in data_rows(run_page.text, "diff-row")}
    shown = {pid: (int(r["current"]), int(r["recomputed"]), int(r["difference"])) for pid, r in diff.items()}
    assert shown == {b: (700, 800, 100), a: (1600, 1900, 300)}
    assert "+1.00 USD" in run_page.text
    assert "+3.00 USD" in run_page.text
    assert await world.payables() == {"B": 700, "A": 1600}  # a dry run posts nothing
    published = await post_form(
        backoffice_client, f"/ib/recompute/{run_id}", f"/ib/recompute/{run_id}/publish", {}
    )
    assert flashes(published.text) == ["Publishing: only the differences are posted, in a moment."]
    assert jobs.Job("ib.publish_recompute", (run_id,)) in sent_jobs
    # The worker runs the job (ib.publish_recompute calls exactly this).
    outcome = await recompute.publish(db, run_id)
    assert outcome.deltas == {(b, "USD"): 100, (a, "USD"): 300}
    assert await world.payables() == {"B": 800, "A": 1900}
    after = await backoffice_client.get(f"/ib/recompute/{run_id}")
    assert 'class="run-status">published' in after.text
    assert "/publish" not in after.text.split("</table>")[-1]
    async with db.session() as session:
        events = {
            e.action: e
            for e in await session.scalars(select(AuditEvent).where(AuditEvent.target_id == str(run_id)))
        }
    assert events["ib.recompute_dry_run"].actor_email == IB_MANAGER
    assert events["ib.recompute_publish_requested"].actor_email == IB_MANAGER
    assert "ib.recompute_published" in events
    # Confirming twice is refused: the run is no longer a dry run.
    twice = await post_form(
        backoffice_client, f"/ib/recompute/{run_id}", f"/ib/recompute/{run_id}/publish", {}
    )
    assert flashes(twice.text) == [f"recompute {run_id} is not a dry run waiting to be published"]


async def test_a_bad_period_is_refused(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await two_levels(db)
    await sign_in_ib_manager(backoffice_client, db, settings)
    published = str(world.version_id)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"period_start": "2026-11-10", "period_end": "2026-11-01"}, "the period must end after it starts"),
        ({"period_start": "yesterday", "period_end": "2026-11-01"}, "The start of the period must be a date"),
        (
            {"period_start": "2026-10-01", "period_end": "2026-11-01", "draft_version_id": published},
            "is not a draft",
        ),
    ]
    for form, message in cases:
        page = await post_form(backoffice_client, "/ib/recompute", "/ib/recompute", form)
        [shown] = flashes(page.text)
        assert message in shown
    async with db.session() as session:
        runs = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "ib.recompute_dry_run")
        )
    assert runs == 0
