"""The client figures over HTTP: the 360 tile, the list and segment filters, the settings screen
and the scheduled job, on the hand-worked world of :mod:`tests.integration.analytics.world`."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from analytics.models import ClientMetrics
from analytics.recompute import recompute_client_metrics
from core.db import Database
from core.settings import Settings
from tests.helpers import csrf_from, make_staff, staff_sign_in
from tests.integration.analytics.world import Clock, FiguresWorld, build
from tests.worker_actors import actors_on_a_fresh_broker
from workers import runtime
from workers.scheduler import SCHEDULES

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def world(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> FiguresWorld:
    return await build(db, settings, tmp_path, Clock(monkeypatch))


@pytest.fixture
async def staff(db: Database, settings: Settings, world: FiguresWorld) -> AsyncIterator[AsyncTestClient[Any]]:
    from tests.apps import backoffice_app

    _, secret = await make_staff(db, settings, "admin@figures.test", ["admin"])
    assert secret
    async with AsyncTestClient(app=backoffice_app(settings, db)) as browser:
        await staff_sign_in(browser, "admin@figures.test", secret)
        yield browser


async def _rows(db: Database) -> dict[int, dict[str, Any]]:
    async with db.session() as session:
        rows = await session.scalars(select(ClientMetrics))
        return {
            row.client_id: {c.name: getattr(row, c.name) for c in ClientMetrics.__table__.columns}
            for row in rows
        }


def _listed(page: str) -> set[int]:
    return {int(found) for found in re.findall(r'class="client-row" data-id="(\d+)"', page)}


def _tile(page: str, css: str) -> str:
    match = re.search(rf'<dd class="{css}"[^>]*>([^<]*)</dd>', page)
    assert match, css
    return html.unescape(match.group(1)).strip()


async def test_the_job_computes_the_hand_worked_figures_and_a_rerun_changes_nothing(
    db: Database, world: FiguresWorld
) -> None:
    ids, clock = world.ids, world.clock
    result = await recompute_client_metrics(db)
    assert result.clients == 5  # four clients and the IB, who is a client too
    first = await _rows(db)
    anna, bob, cleo, dan = (first[ids[n]] for n in ("anna", "bob", "cleo", "dan"))
    assert (anna["deposited"], anna["withdrawn"], anna["net_deposits"]) == (1_550_00, 310_00, 1_240_00)
    assert (anna["balance"], anna["closing_deals"], anna["lots_e8"]) == (1_500_00, 2, 150_000_000)
    assert anna["commissions"] == 14_00
    assert anna["currency"] == "USD"
    assert (anna["funded"], anna["churn_risk"], anna["value_tier"]) == (True, True, "silver")
    assert clock_equal(anna["last_trade_at"], clock.ago(days=35))
    assert clock_equal(anna["last_login_at"], clock.ago(days=33))
    assert (bob["net_deposits"], bob["lots_e8"], bob["commissions"]) == (20_000_00, 120 * 10**8, 840_00)
    assert (bob["churn_risk"], bob["value_tier"]) == (False, "gold")
    assert (cleo["funded"], cleo["churn_risk"], cleo["value_tier"], cleo["net_deposits"]) == (
        False,
        False,
        "standard",
        0,
    )
    assert clock_equal(cleo["last_activity_at"], clock.ago(days=60))
    assert cleo["last_trade_at"] is None
    assert (dan["net_deposits"], dan["balance"], dan["churn_risk"], dan["value_tier"]) == (
        50_00,
        50_00,
        False,
        "standard",
    )

    again = await recompute_client_metrics(db)
    assert again.clients == 5
    assert await _rows(db) == first


def clock_equal(stored: Any, expected: Any) -> bool:
    from core.clock import as_utc

    return bool(stored is not None and as_utc(stored) == expected)


async def test_the_360_page_shows_the_figures_and_when_they_were_computed(
    db: Database, world: FiguresWorld, staff: AsyncTestClient[Any]
) -> None:
    anna = world.ids["anna"]
    before = await staff.get(f"/clients/{anna}")
    assert before.status_code == 200
    assert 'class="muted not-computed"' in before.text
    await recompute_client_metrics(db)
    page = (await staff.get(f"/clients/{anna}")).text
    assert _tile(page, "net-deposits") == "1,240.00 USD"
    assert _tile(page, "deposited") == "1,550.00 USD"
    assert _tile(page, "withdrawn") == "310.00 USD"
    assert _tile(page, "figure-balance") == "1,500.00 USD"
    assert _tile(page, "lots") == "1.5"
    assert _tile(page, "closing-deals") == "2"
    assert _tile(page, "commissions") == "14.00 USD"
    assert _tile(page, "days-since-trade") == "35"
    assert _tile(page, "days-since-login") == "33"
    assert _tile(page, "inactive-days") == "33"
    assert 'data-tier="silver"' in page
    assert 'data-churn="yes"' in page
    assert f"{world.clock.now:%Y-%m-%d %H:%M}" in page
    cleo = (await staff.get(f"/clients/{world.ids['cleo']}")).text
    assert _tile(cleo, "days-since-trade") == "never traded"
    assert 'data-churn="no"' in cleo
    assert 'data-tier="standard"' in cleo


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("churn=yes", {"anna"}),
        ("tier=gold", {"bob"}),
        ("tier=standard", {"cleo", "dan", "ivan"}),
        ("net_min=1000", {"anna", "bob"}),
        ("net_min=1240&net_max=1240.00", {"anna"}),
        ("net_max=100", {"cleo", "dan", "ivan"}),
        ("net_min=-5&net_max=0", {"cleo", "ivan"}),
        ("inactive=30", {"anna", "cleo", "dan", "ivan"}),
        ("inactive=34", {"cleo", "dan", "ivan"}),
        ("churn=no&inactive=30&net_min=1", {"dan"}),
    ],
)
async def test_the_client_list_filters_on_the_figures(
    db: Database, world: FiguresWorld, staff: AsyncTestClient[Any], query: str, expected: set[str]
) -> None:
    await recompute_client_metrics(db)
    answer = await staff.get(f"/clients/?{query}")
    assert answer.status_code == 200
    assert _listed(answer.text) == {world.ids[name] for name in expected}


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("churn=maybe", "churn", "churn risk is yes or no"),
        ("tier=platinum", "tier", "unknown value tier"),
        ("net_min=abc", "net_min", "as a number"),
        ("net_min=1.234", "net_min", "at most 2 decimal places"),
        ("net_min=500&net_max=100", "net_max", "below the minimum"),
        ("inactive=-3", "inactive", "whole number"),
        ("inactive=99999", "inactive", "whole number"),
    ],
)
async def test_bad_figure_filters_are_refused_with_the_field_named(
    db: Database, world: FiguresWorld, staff: AsyncTestClient[Any], query: str, field: str, says: str
) -> None:
    await recompute_client_metrics(db)
    answer = await staff.get(f"/clients/?{query}")
    assert answer.status_code == 400
    assert f'data-field="{field}"' in answer.text
    assert says in html.unescape(answer.text)
    assert _listed(answer.text) == set()
    exported = await staff.get(f"/clients/export.csv?{query}")
    assert exported.status_code == 400


async def test_a_segment_keeps_the_figure_filters(
    db: Database, world: FiguresWorld, staff: AsyncTestClient[Any]
) -> None:
    await recompute_client_metrics(db)
    page = await staff.get("/clients/?churn=no&tier=standard&inactive=60&net_max=49.99")
    assert _listed(page.text) == {world.ids["cleo"], world.ids["ivan"]}
    saved = await staff.post(
        "/clients/segments/",
        data={
            "_csrf_token": csrf_from(page.text),
            "name": "Dormant, never funded",
            "churn": "no",
            "tier": "standard",
            "inactive": "60",
            "net_max": "49.99",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    opened = await staff.get(saved.headers["location"], follow_redirects=True)
    assert opened.status_code == 200
    assert "churn=no" in str(opened.url)
    assert "net_max=49.99" in str(opened.url)
    assert _listed(opened.text) == {world.ids["cleo"], world.ids["ivan"]}
    refused = await staff.post(
        "/clients/segments/",
        data={"_csrf_token": csrf_from(page.text), "name": "Broken", "tier": "diamond"},
        follow_redirects=False,
    )
    assert refused.status_code == 400
    assert 'data-field="tier"' in refused.text


async def test_staff_change_the_thresholds_and_the_job_follows(
    db: Database, settings: Settings, world: FiguresWorld, staff: AsyncTestClient[Any], sent_jobs: list[Any]
) -> None:
    await recompute_client_metrics(db)
    page = await staff.get("/settings/analytics")
    assert page.status_code == 200
    assert 'name="inactive_days" inputmode="numeric" value="30"' in page.text
    form = {
        "_csrf_token": csrf_from(page.text),
        "version": "0",
        "inactive_days": "34",
        "churn_min_balance": "100.00",
        "silver_net_deposits": "2000",
        "silver_lots": "1",
        "gold_net_deposits": "10000",
        "gold_lots": "100",
        "vip_net_deposits": "100000",
        "vip_lots": "1000",
    }
    bad = await staff.post("/settings/analytics", data={**form, "gold_net_deposits": "1500"})
    assert bad.status_code == 400
    assert "at least as much as the tier below" in html.unescape(bad.text)
    assert 'name="gold_net_deposits" inputmode="decimal" value="1500" aria-invalid="true"' in bad.text
    zero_days = await staff.post("/settings/analytics", data={**form, "inactive_days": "0"})
    assert zero_days.status_code == 400
    assert "Inactive days" in html.unescape(zero_days.text)
    assert [job for job in sent_jobs if job.actor_name == "analytics.recompute_client_metrics"] == []
    saved = await staff.post("/settings/analytics", data=form, follow_redirects=False)
    assert saved.status_code == 303
    assert [job.actor_name for job in sent_jobs].count("analytics.recompute_client_metrics") == 1
    stale = await staff.post("/settings/analytics", data=form)
    assert stale.status_code == 409
    await recompute_client_metrics(db)
    rows = await _rows(db)
    anna = rows[world.ids["anna"]]
    # 33 days inactive is under the new 34; 1.5 lots reach silver's new 1 lot though 1,240.00 < 2,000.00
    assert (anna["churn_risk"], anna["value_tier"]) == (False, "silver")
    assert rows[world.ids["dan"]]["value_tier"] == "standard"
    history = (await staff.get("/settings/analytics")).text
    assert "settings.analytics_changed" in history


async def test_the_actor_is_scheduled_hourly_and_a_redelivery_writes_the_same_rows(
    db: Database, settings: Settings, world: FiguresWorld
) -> None:
    module: Any = actors_on_a_fresh_broker()
    previous = runtime._runtime
    runtime.install(runtime.WorkerRuntime(settings=settings, database=db))
    try:
        await module.recompute_client_metrics.fn.__wrapped__()
        first = await _rows(db)
        await module.recompute_client_metrics.fn.__wrapped__()
        assert await _rows(db) == first
        assert len(first) == 5
    finally:
        runtime._runtime = previous
    [schedule] = [s for s in SCHEDULES if s.actor_name == "analytics.recompute_client_metrics"]
    assert schedule.every_seconds == 3600


async def test_the_figures_speak_chinese(
    db: Database, world: FiguresWorld, staff: AsyncTestClient[Any]
) -> None:
    await recompute_client_metrics(db)
    page = await staff.get(f"/clients/{world.ids['anna']}")
    switched = await staff.post(
        "/language",
        data={"_csrf_token": csrf_from(page.text), "language": "zh_Hans", "next": "/clients"},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    detail = html.unescape((await staff.get(f"/clients/{world.ids['anna']}")).text)
    assert "客户价值与活跃度" in detail
    assert "累计净入金" in detail
    assert "白银" in detail
    listing = html.unescape((await staff.get("/clients/")).text)
    assert "流失风险" in listing
    assert "价值等级" in listing
    screen = html.unescape((await staff.get("/settings/analytics")).text)
    assert "保存客户数据设置" in screen
    assert "客户数据" in html.unescape((await staff.get("/settings")).text)


async def test_every_text_of_the_figure_pages_has_a_chinese_translation() -> None:
    from babel.messages.pofile import read_po

    from backoffice.app import backoffice_spec

    spec = backoffice_spec()
    catalogue: set[str] = set()
    for directory in spec.locale_dirs:
        po = Path(directory) / "zh_Hans" / "LC_MESSAGES" / "messages.po"
        if po.exists():
            with po.open("rb") as handle:
                catalogue |= {str(m.id) for m in read_po(handle) if m.id and m.string}
    templates = Path(spec.template_dir)
    wanted: set[str] = set()
    for name in ("clients/_figures.html", "clients/_figure_filters.html", "settings/analytics.html"):
        wanted |= set(re.findall(r"_\('([^']+)'", (templates / name).read_text(encoding="utf-8")))
    assert wanted
    assert wanted - catalogue == set()


async def test_the_api_answers_one_clients_figures(
    db: Database, settings: Settings, world: FiguresWorld, staff: AsyncTestClient[Any]
) -> None:
    anna = world.ids["anna"]
    early = await staff.get(f"/api/v1/clients/{anna}/figures")
    assert early.status_code == 404
    assert "not computed yet" in early.json()["detail"]
    await recompute_client_metrics(db)
    answer = await staff.get(f"/api/v1/clients/{anna}/figures")
    assert answer.status_code == 200
    body = answer.json()
    assert body["net_deposits"] == 1_240_00
    assert body["currency"] == "USD"
    assert body["lots"] == "1.5"
    assert body["commissions"] == 14_00
    assert body["days_since_trade"] == 35
    assert body["days_since_login"] == 33
    assert body["churn_risk"] is True
    assert body["value_tier"] == "silver"
    for missing in (999_999, 2**70):
        gone = await staff.get(f"/api/v1/clients/{missing}/figures")
        assert gone.status_code == 404
        assert gone.json()["detail"]
    schema = (await staff.get("/api/schema/openapi.json")).json()
    assert "/api/v1/clients/{client_id}/figures" in schema["paths"]


async def test_the_api_keeps_to_the_data_scope(db: Database, settings: Settings, world: FiguresWorld) -> None:
    from core.audit.service import SYSTEM
    from crm.assignment import set_data_scope
    from tests.apps import backoffice_app

    await recompute_client_metrics(db)
    limited, secret = await make_staff(db, settings, "own@figures.test", ["support"])
    assert secret
    async with db.transaction() as session:
        await set_data_scope(session, SYSTEM, limited, "own", "")
    async with AsyncTestClient(app=backoffice_app(settings, db)) as browser:
        await staff_sign_in(browser, "own@figures.test", secret)
        answer = await browser.get(f"/api/v1/clients/{world.ids['anna']}/figures")
        assert answer.status_code == 404
        assert "not computed" not in answer.json()["detail"]
        listed = await browser.get("/clients/?churn=yes")
        assert _listed(listed.text) == set()
