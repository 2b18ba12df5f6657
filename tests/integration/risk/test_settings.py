"""The rules' thresholds: defaults until staff change them; each change audited with before and
after; a bad value refused with 400 naming the field and nothing stored; the rules use them."""

from __future__ import annotations

import html

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from risk import rules
from risk.config import DEFAULTS, load_config, parse_config
from risk.engine import run_rule
from risk.errors import InvalidRiskConfigError
from risk.models import RiskAlert, RiskConfigRow
from tests.apps import backoffice_app
from tests.helpers import make_staff, staff_sign_in, submit
from tests.integration.risk.world import NOW, ago, risk_world


def form(**changes: int) -> dict[str, str]:
    values = {name: str(value) for name, value in vars(DEFAULTS).items()}
    return {**values, **{name: str(value) for name, value in changes.items()}}


def test_parsing_refuses_what_is_not_a_sane_whole_number() -> None:
    assert parse_config({"min_hold_seconds": " 60 "}).min_hold_seconds == 60
    for values, field in (
        ({"min_hold_seconds": "1.5"}, "min_hold_seconds"),
        ({"large_deposit_usd_minor": "-1"}, "large_deposit_usd_minor"),
        ({"shared_ip_min_clients": "1"}, "shared_ip_min_clients"),
        ({"no_such_threshold": "1"}, "no_such_threshold"),
    ):
        with pytest.raises(InvalidRiskConfigError) as caught:
            parse_config(values)
        assert caught.value.field == field


async def test_thresholds_are_edited_audited_and_used_by_the_rules(
    backoffice_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    world = await risk_world(db)
    client = await world.client("mid")
    deposit_id = await world.deposit(client, 600_000, ago(hours=1))
    _fin, secret = await make_staff(db, settings, "fin@staff.test", ["finance"])
    assert secret
    async with AsyncTestClient(app=backoffice_app(settings, db)) as finance:
        await staff_sign_in(finance, "fin@staff.test", secret)
        assert (await finance.get("/risk/settings")).status_code == 403
    staff_id, secret = await make_staff(db, settings, "comp@staff.test", ["compliance"])
    assert secret
    await staff_sign_in(backoffice_client, "comp@staff.test", secret)
    page = await backoffice_client.get("/risk/settings")
    assert page.status_code == 200
    assert 'name="large_deposit_usd_minor" value="1000000"' in page.text

    bad = await submit(
        backoffice_client, "/risk/settings", "/risk/settings", form() | {"min_hold_seconds": "soon"}
    )
    assert bad.status_code == 400
    assert "Minimum hold time of a trade (seconds): must be a whole number" in html.unescape(bad.text)
    assert 'data-field="min_hold_seconds"' in bad.text
    async with db.session() as session:
        assert await session.get(RiskConfigRow, "thresholds") is None
        assert (
            list(
                await session.scalars(
                    select(AuditEvent).where(AuditEvent.action == "risk.thresholds_changed")
                )
            )
            == []
        )

    saved = await submit(
        backoffice_client,
        "/risk/settings",
        "/risk/settings",
        form(large_deposit_usd_minor=500_000, min_hold_seconds=60),
    )
    assert saved.status_code == 303
    async with db.session() as session:
        config = await load_config(session)
        row = await session.get(RiskConfigRow, "thresholds")
        [event] = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "risk.thresholds_changed"))
        )
    assert (config.large_deposit_usd_minor, config.min_hold_seconds) == (500_000, 60)
    assert row is not None
    assert row.value == {"large_deposit_usd_minor": 500_000, "min_hold_seconds": 60}
    assert row.updated_by == staff_id
    assert event.before == {"large_deposit_usd_minor": 1_000_000, "min_hold_seconds": 120}
    assert event.after == {"large_deposit_usd_minor": 500_000, "min_hold_seconds": 60}
    assert event.actor_id == staff_id

    await run_rule(db, rules.LARGE_DEPOSIT, rules.RULES[rules.LARGE_DEPOSIT], NOW)
    async with db.session() as session:
        keys = list(await session.scalars(select(RiskAlert.dedup_key)))
    assert keys == [f"deposit:{deposit_id}"]
