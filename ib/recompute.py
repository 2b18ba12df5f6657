"""Recomputing a period: a dry run shows each IB's difference; publishing posts only the differences.

Staff may try a draft scheme version on a past period: the dry run computes every stored deal of
the period with the network as it stood at each deal's time (plus the draft), compares the result
with the published lines and stores the per-IB diff. Nothing is written but the run itself.
Publishing publishes the draft (if any), computes again (the books may have moved since the dry
run), writes the changed lines and posts one ledger transfer per IB and currency, keyed by the
run, so a redelivered publish replays instead of paying twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import Database
from core.gc_tuning import collector_paused
from core.jobs import enqueue_after_commit
from ib import audit
from ib.calculation import CalculationState, calculate
from ib.engine import Outcome, deal_facts, merge_new_clients, post_deltas, seed_state, uses_min_hold
from ib.errors import RecomputeError
from ib.line_store import LineDiff, LineKey, StoredLine, diff_lines, stored_lines, update_key, write_lines
from ib.models import RecomputeRun, SchemeVersion, StoredDeal
from ib.network import Network
from ib.rules.base import Line
from ib.schemes import publish_version
from ib.sessions import posting_session
from ib.snapshot import load_network
from ib.timeutil import aware

PAGE = 20_000


@dataclass
class PeriodDiff:
    """Per IB and currency: what is published now, what the recompute gives, and the changed lines."""

    current: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    recomputed: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    changed_lines: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    deals: int = 0

    def count(
        self,
        deals: int,
        lines: Sequence[Line],
        stored: Mapping[LineKey, StoredLine],
        diff: LineDiff,
    ) -> None:
        """Add one page: its deals, the lines published and recomputed, and the changed ones."""
        self.deals += deals
        for key, (amount, currency, _revision) in stored.items():
            self.current[(key[1], currency)] += amount
        for line in lines:
            self.recomputed[(line.beneficiary_id, line.currency)] += line.amount
        for _deal_id, line in diff.inserts:
            self.changed_lines[(line.beneficiary_id, line.currency)] += 1
        for update in diff.updates:
            key = update_key(update)
            self.changed_lines[(key[1], stored[key][1])] += 1

    def rows(self) -> list[dict[str, Any]]:
        keys = sorted(set(self.current) | set(self.recomputed) | set(self.changed_lines))
        out = []
        for partner_id, currency in keys:
            before = self.current.get((partner_id, currency), 0)
            after = self.recomputed.get((partner_id, currency), 0)
            changed = self.changed_lines.get((partner_id, currency), 0)
            if before != after or changed:
                out.append(
                    {
                        "partner_id": partner_id,
                        "currency": currency,
                        "current": before,
                        "recomputed": after,
                        "difference": after - before,
                        "changed_lines": changed,
                    }
                )
        return out


async def _pages(
    session: AsyncSession, start: datetime, end: datetime
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every stored deal of [start, end) in (time, id) order, a page at a time."""
    after: tuple[datetime, int] | None = None
    table = StoredDeal.__table__
    connection = await session.connection()
    while True:
        statement = select(table).where(StoredDeal.time >= start, StoredDeal.time < end)
        if after is not None:
            statement = statement.where(tuple_(StoredDeal.time, StoredDeal.id) > tuple_(*after))
        statement = statement.order_by(StoredDeal.time, StoredDeal.id).limit(PAGE)
        rows = [dict(row) for row in (await connection.execute(statement)).mappings()]
        if not rows:
            return
        yield rows
        after = (rows[-1]["time"], rows[-1]["id"])


async def _run_period(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    draft_version_id: int | None,
    now: datetime,
    write: bool,
) -> tuple[PeriodDiff, dict[tuple[int, str], int]]:
    network: Network = await load_network(session, None, draft_version_id=draft_version_id)
    with_opening_times = uses_min_hold(network)
    state: CalculationState | None = None
    report = PeriodDiff()
    deltas: dict[tuple[int, str], int] = defaultdict(int)
    async for rows in _pages(session, start, end):
        # A page makes a few objects per line and no reference cycle; see core.gc_tuning.
        with collector_paused():
            facts = await deal_facts(session, rows, with_opening_times=with_opening_times)
            page_state = await seed_state(
                session, network, facts, computing_window=(start, end), include_caps=state is None
            )
            if state is None:
                state = page_state
            else:
                merge_new_clients(state, page_state)
            lines = calculate(list(facts.values()), network, state)
            ids = {(row["server"], row["ticket"]): row["id"] for row in rows}
            stored = await stored_lines(
                session, [row["id"] for row in rows], between=(rows[0]["time"], rows[-1]["time"])
            )
            diff: LineDiff = diff_lines(lines, ids, stored, now)
            report.count(len(rows), lines, stored, diff)
            for key, amount in diff.deltas.items():
                deltas[key] += amount
            if write:
                await write_lines(session, diff, now)
            # The page's objects go before the collector runs again, so it never walks them.
            del rows, facts, page_state, lines, ids, stored, diff
    return report, {key: value for key, value in deltas.items() if value}


async def _checked_request(
    session: AsyncSession, period_start: datetime, period_end: datetime, draft_version_id: int | None
) -> tuple[datetime, datetime]:
    """The period as UTC, once it ends after it starts and the version given (if any) is a draft."""
    start, end = aware(period_start), aware(period_end)
    if end <= start:
        raise RecomputeError("the period must end after it starts")
    if draft_version_id is not None:
        version = await session.get(SchemeVersion, draft_version_id)
        if version is None or version.status != "draft":
            raise RecomputeError(f"scheme version {draft_version_id} is not a draft")
    return start, end


async def _new_run(
    session: AsyncSession,
    period_start: datetime,
    period_end: datetime,
    draft_version_id: int | None,
    *,
    actor: str,
    now: datetime,
) -> RecomputeRun:
    """A checked request for a dry run, stored as ``computing`` and audited as the staff action."""
    start, end = await _checked_request(session, period_start, period_end, draft_version_id)
    run = RecomputeRun(
        period_start=start,
        period_end=end,
        draft_version_id=draft_version_id,
        status="computing",
        diff={},
        created_by=actor,
        created_at=now,
    )
    session.add(run)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="ib.recompute_dry_run",
        subject=f"recompute:{run.id}",
        now=now,
        after={"period": [start.isoformat(), end.isoformat()], "draft_version_id": draft_version_id},
    )
    return run


async def _dry_diff(session: AsyncSession, run: RecomputeRun, now: datetime) -> dict[str, Any]:
    report, _deltas = await _run_period(
        session,
        aware(run.period_start),
        aware(run.period_end),
        draft_version_id=run.draft_version_id,
        now=now,
        write=False,
    )
    return {"deals": report.deals, "ibs": report.rows()}


async def dry_run(
    db: Database,
    *,
    period_start: datetime,
    period_end: datetime,
    draft_version_id: int | None = None,
    actor: str,
    now: datetime | None = None,
) -> RecomputeRun:
    """Compute the period (with the draft, if given) and store the per-IB diff, here and now;
    posts nothing. The back office asks for the same through :func:`request_dry_run`."""
    now = now or utcnow()
    async with db.write_transaction() as session:
        run = await _new_run(session, period_start, period_end, draft_version_id, actor=actor, now=now)
        run.diff = await _dry_diff(session, run, now)
        run.status = "dry_run"
    return run


async def request_dry_run(
    session: AsyncSession,
    *,
    period_start: datetime,
    period_end: datetime,
    draft_version_id: int | None = None,
    actor: str,
    now: datetime,
) -> RecomputeRun:
    """Staff ask for a dry run: the run is recorded as ``computing`` and the job
    ``ib.compute_dry_run`` computes it once this transaction commits (a month of a million deals
    takes a minute or two, longer than a web request should wait)."""
    run = await _new_run(session, period_start, period_end, draft_version_id, actor=actor, now=now)
    enqueue_after_commit(session, "ib.compute_dry_run", run.id)
    return run


async def compute_dry_run(db: Database, run_id: int, *, now: datetime | None = None) -> None:
    """The job: compute a requested dry run and store its diff. The run's row is locked while it
    computes, so a second delivery waits and then finds it computed, and does nothing."""
    now = now or utcnow()
    async with db.write_transaction() as session:
        run = await session.get(RecomputeRun, run_id, with_for_update=True)
        if run is None or run.status != "computing":
            return
        run.diff = await _dry_diff(session, run, now)
        run.status = "dry_run"


async def request_publish(session: AsyncSession, run_id: int, *, actor: str, now: datetime) -> None:
    """Staff confirm a dry run: the publish job runs once this transaction commits."""
    run = await session.get(RecomputeRun, run_id)
    if run is None or run.status != "dry_run":
        raise RecomputeError(f"recompute {run_id} is not a dry run waiting to be published")
    audit.record(
        session, actor=actor, action="ib.recompute_publish_requested", subject=f"recompute:{run_id}", now=now
    )
    enqueue_after_commit(session, "ib.publish_recompute", run_id)


async def publish(
    db: Database, run_id: int, *, actor: str = "system", now: datetime | None = None
) -> Outcome:
    """Publish a dry run: write the changed lines and post each IB's difference, once."""
    now = now or utcnow()
    outcome = Outcome()
    async with posting_session(db) as session:
        run = await session.get(RecomputeRun, run_id, with_for_update=True)
        if run is None:
            raise RecomputeError(f"no recompute {run_id}")
        if run.status == "published":
            return outcome
        if run.draft_version_id is not None:
            await publish_version(session, run.draft_version_id, actor=actor, now=now)
        report, deltas = await _run_period(
            session,
            aware(run.period_start),
            aware(run.period_end),
            draft_version_id=None,
            now=now,
            write=True,
        )
        outcome.computed_deals = report.deals
        outcome.deltas = deltas
        outcome.transfer_ids = await post_deltas(session, deltas, key_prefix=f"ib:r:{run_id}", now=now)
        run.status = "published"
        run.published_at = now
        run.diff = {**run.diff, "published": report.rows()}
        audit.record(
            session,
            actor=actor,
            action="ib.recompute_published",
            subject=f"recompute:{run_id}",
            now=now,
            after={"deltas": [[pid, currency, amount] for (pid, currency), amount in sorted(deltas.items())]},
        )
    return outcome


async def get_run(db: Database, run_id: int) -> RecomputeRun:
    async with db.session() as session:
        run = await session.get(RecomputeRun, run_id)
    if run is None:
        raise RecomputeError(f"no recompute {run_id}")
    return run
