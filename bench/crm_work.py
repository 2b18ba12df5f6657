"""CRM work benchmark on PostgreSQL (DESIGN.md §12): the scheduled capture of unfinished
registrations over a large client base, and the "My tasks" query.

Measures, on one freshly migrated database with 100,000 clients (5,000 with ``--quick``) who
registered a month ago, a third never verified, a sixth verified without KYC and half approved but
never funded (so every one is an unfinished registration):

* the first capture runs (batches of 5,000), which turn every unfinished registration into a lead
  (leads/s), against
  the raw INSERT rate of as many rows into an unconstrained table (the baseline);
* a second capture run that finds nothing changed (clients scanned/s), against a bare scan of the
  same client ids;
* "My tasks" for one of 200 staff members holding 100 tasks each (ms per page, p50), against a bare
  indexed SELECT of the same staff member's task rows.

Prints a table, then one JSON object per figure per line.

    python bench/crm_work.py [--quick] [--clients N] [--admin-url postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import DEFAULT_ADMIN_URL, Figure, load_average, print_json_lines, scratch_database
from core import clock
from core.audit.service import SYSTEM
from core.db import Database, migrate
from core.identity.models import CLIENT, STAFF, User
from crm.leads import capture_unfinished_registrations
from crm.tasks import my_tasks
from crm.work_models import Task
from kyc.models import CaseStatus, KycCase, KycLevel

BENCH = "crm_work"
STAFF_MEMBERS = 200
TASKS_EACH = 100
CHUNK = 5_000
QUERY_ROUNDS = 50


async def seed(db: Database, clients: int) -> list[int]:
    now = clock.utcnow()
    old = now - timedelta(days=30)
    async with db.transaction() as session:
        for start in range(0, clients, CHUNK):
            await session.execute(
                insert(User),
                [
                    {
                        "kind": CLIENT,
                        "email": f"client{n}@bench.test",
                        "password_hash": "x",
                        "created_at": old,
                        "email_verified_at": None if n % 3 == 0 else old,
                    }
                    for n in range(start, min(clients, start + CHUNK))
                ],
            )
        staff = [
            {"kind": STAFF, "email": f"staff{n}@bench.test", "password_hash": "x", "created_at": old}
            for n in range(STAFF_MEMBERS)
        ]
        await session.execute(insert(User), staff)
    async with db.session() as session:
        ids = list(
            (await session.execute(User.__table__.select().with_only_columns(User.id, User.kind))).all()
        )
    client_ids = [i for i, kind in ids if kind == CLIENT]
    staff_ids = [i for i, kind in ids if kind == STAFF]
    approved = [cid for n, cid in enumerate(client_ids) if n % 3 == 2 or n % 6 == 1]
    async with db.transaction() as session:
        for start in range(0, len(approved), CHUNK):
            await session.execute(
                insert(KycCase),
                [
                    {"client_id": cid, "status": CaseStatus.APPROVED, "level": KycLevel.FULL}
                    for cid in approved[start : start + CHUNK]
                ],
            )
        today = now.date()
        for staff_id in staff_ids:
            await session.execute(
                insert(Task),
                [
                    {
                        "client_id": client_ids[(staff_id * TASKS_EACH + n) % len(client_ids)],
                        "title": f"follow up {n}",
                        "due_on": today + timedelta(days=(n % 30) - 10),
                        "assignee_id": staff_id,
                        "status": "done" if n % 4 == 0 else "open",
                    }
                    for n in range(TASKS_EACH)
                ],
            )
    async with db.engine.connect() as connection:  # what autovacuum does soon after a bulk load
        await connection.execute(text("ANALYZE"))
    return staff_ids


async def raw_insert_rate(dsn: str, rows: int) -> float:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE TABLE raw_rows (a BIGINT, email TEXT, at TIMESTAMPTZ DEFAULT now())")
        started = time.perf_counter()
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            async with connection.transaction():
                await connection.execute(
                    "INSERT INTO raw_rows (a, email) SELECT * FROM unnest($1::BIGINT[], $2::TEXT[])",
                    list(range(start, start + n)),
                    [f"r{i}@bench.test" for i in range(start, start + n)],
                )
        return rows / (time.perf_counter() - started)
    finally:
        await connection.close()


async def bare_scan_rate(dsn: str) -> tuple[float, int]:
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        rows = await connection.fetch("SELECT id, email FROM users WHERE kind = 'client'")
        return len(rows) / (time.perf_counter() - started), len(rows)
    finally:
        await connection.close()


async def bare_task_select_ms(dsn: str, staff_id: int) -> float:
    connection = await asyncpg.connect(dsn)
    try:
        timings = []
        for _ in range(QUERY_ROUNDS):
            started = time.perf_counter()
            await connection.fetch(
                "SELECT * FROM crm_tasks WHERE assignee_id = $1 AND status = 'open'", staff_id
            )
            timings.append((time.perf_counter() - started) * 1000)
        return statistics.median(timings)
    finally:
        await connection.close()


async def run(clients: int, admin_url: str) -> list[Figure]:
    async with scratch_database(admin_url, f"bench_crm_work_{os.getpid()}") as (dsn, url):
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database.from_url(url)
        try:
            started = time.perf_counter()
            staff_ids = await seed(db, clients)
            print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
            created, runs = 0, 0
            started = time.perf_counter()
            while True:  # the scheduled job's runs, back to back: 5,000 clients each
                async with db.transaction() as session:
                    batch = await capture_unfinished_registrations(session, clock.utcnow(), actor=SYSTEM)
                if batch.created == 0:
                    break
                created, runs = created + batch.created, runs + 1
            first_seconds = time.perf_counter() - started
            async with db.transaction() as session:
                started = time.perf_counter()
                second = await capture_unfinished_registrations(session, clock.utcnow(), actor=SYSTEM)
            second_seconds = time.perf_counter() - started
            assert second.created == second.refreshed == second.linked == 0
            timings = []
            today = clock.utcnow().date()
            for _ in range(QUERY_ROUNDS):
                async with db.session() as session:
                    started = time.perf_counter()
                    await my_tasks(session, staff_ids[len(staff_ids) // 2], today, "open")
                    timings.append((time.perf_counter() - started) * 1000)
        finally:
            await db.dispose()
        raw = await raw_insert_rate(dsn, created)
        scan, scanned = await bare_scan_rate(dsn)
        bare_ms = await bare_task_select_ms(dsn, staff_ids[len(staff_ids) // 2])
    print(f"{clients} clients: {runs} capture runs created {created} leads in {first_seconds:.2f} s;")
    print(f"an idle rerun scanned {scanned} clients in {second_seconds:.2f} s (load {load_average()})")
    return [
        Figure("capture_leads_per_s", created / first_seconds, "1/s", "raw_insert_rows_per_s", raw),
        Figure("idle_capture_clients_per_s", scanned / second_seconds, "1/s", "bare_scan_rows_per_s", scan),
        Figure(
            "my_tasks_p50_ms",
            statistics.median(timings),
            "ms",
            "bare_task_select_p50_ms",
            bare_ms,
            higher_is_better=False,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="5,000 clients: under a minute")
    parser.add_argument("--clients", type=int, default=0, help="seed this many clients instead")
    parser.add_argument("--admin-url", default=os.environ.get("TEST_PG_ADMIN_URL", DEFAULT_ADMIN_URL))
    args = parser.parse_args()
    clients = args.clients or (5_000 if args.quick else 100_000)
    figures = asyncio.run(run(clients, args.admin_url))
    print(f"{'metric':32} {'value':>12} {'unit':>5} {'baseline':>14}  ratio")
    for f in figures:
        print(f"{f.metric:32} {f.value:12.1f} {f.unit:>5} {f.baseline_value:14.1f}  {f.ratio:.3f}")
    print_json_lines(BENCH, figures, value_digits=2, ratio_digits=4)


if __name__ == "__main__":
    main()
