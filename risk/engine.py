"""Running the rules: each one scans from its own watermark (less an overlap) up to a few minutes
ago (rows that young wait for the next run, see ``RiskConfig.settle_minutes``).

Each rule runs in a transaction of its own that also moves its watermark, so a rule that fails
leaves its watermark where it was and is retried over the same rows on the next run; the alerts'
uniqueness makes the overlap and any rerun harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.db import Database
from risk.alerts import raise_alerts
from risk.config import RiskConfig, load_config
from risk.errors import RiskError
from risk.models import RiskRuleState
from risk.rules import RULES, Rule, Window

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleRun:
    rule: str
    window: Window
    findings: int
    raised: list[int]


async def _locked_state(session: AsyncSession, rule: str) -> RiskRuleState:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(insert(RiskRuleState).values(rule=rule, last_raised=0).on_conflict_do_nothing())
    return await session.scalar(  # type: ignore[return-value]
        select(RiskRuleState).where(RiskRuleState.rule == rule).with_for_update()
    )


def window_for(state: RiskRuleState, config: RiskConfig, now: datetime) -> Window:
    start = (
        clock.as_utc(state.watermark)
        if state.watermark is not None
        else now - timedelta(hours=config.first_run_lookback_hours)
    )
    until = now - timedelta(minutes=config.settle_minutes)
    return Window(since=min(start, until) - timedelta(minutes=config.overlap_minutes), until=until)


async def run_rule(database: Database, name: str, rule: Rule, now: datetime) -> RuleRun:
    """One rule over its window; the watermark moves to the window's end with the alerts it raised."""
    async with database.transaction() as session:
        state = await _locked_state(session, name)
        config = await load_config(session)
        window = window_for(state, config, now)
        findings = await rule(session, window, config)
        raised = await raise_alerts(session, findings, now)
        if state.watermark is None or clock.as_utc(state.watermark) < window.until:
            state.watermark = window.until
        state.last_run_at = now
        state.last_raised = len(raised)
    return RuleRun(rule=name, window=window, findings=len(findings), raised=raised)


async def run_rules(database: Database, *, now: datetime | None = None) -> list[RuleRun]:
    """Every rule once; a failing rule is logged and the others still run, then the run fails."""
    now = now or clock.utcnow()
    runs = []
    failed = []
    for name, rule in RULES.items():
        try:
            runs.append(await run_rule(database, name, rule, now))
        except Exception:
            logger.exception("risk rule %s failed", name)
            failed.append(name)
    if failed:
        raise RiskError(f"risk rules failed: {', '.join(failed)}")
    return runs
