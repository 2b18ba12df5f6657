"""IB portal latency benchmark on PostgreSQL (DESIGN.md §12).

In one run, on a database it creates and drops:

* a broker with 1,000 IBs and 200,000 attributed clients (``--quick``: 200 and 20,000); the
  measured IB heads a 3-level branch of 111 IBs holding 2,000 of those clients, and has 50,000
  commission lines this month (``--quick``: 2,000) on as many deals;
* the portal app and a bare Litestar app, both served by uvicorn on loopback and asked over real
  sockets one request at a time by a signed-in client;
* p50 and p99 latency of the IB's dashboard, network, clients, commission lines (JSON and HTML)
  and statistics, and of its (empty) list of links, which is what sign-in, the session and the IB
  check cost on their own; the baseline is the p50 of the bare handler measured in the same run, so the
  ratio says how many bare requests one IB page costs.

Prints a table, then one JSON object per figure per line. ``--quick`` finishes in under a minute.

    python bench/ib_portal.py [--quick] [--admin-url postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, get

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import DEFAULT_ADMIN_URL, Figure, bulk, load_average, print_json_lines, scratch_database
from core.db import Database, migrate
from core.gc_tuning import freeze_startup_objects
from core.identity.models import CLIENT, User
from core.identity.passwords import hash_password
from core.settings import Settings
from ib.line_basis import basis_of
from ib.models import (
    ClientLink,
    CommissionLine,
    LineBasis,
    Partner,
    PartnerEdge,
    Rule,
    Scheme,
    SchemeVersion,
    StoredDeal,
)

BENCH = "ib_portal"
PASSWORD = "Bench-Harbour-73!"  # noqa: S105 (a throwaway user of a throwaway database)
EMAIL = "bench.ib@example.test"
BATCH = 5_000
BASIS = basis_of("fixed", (700, 700, 0, None), 5)
"""The basis every seeded line names: the direct IB's fixed 700 per lot, as the engine stores it."""
ENDPOINTS = (
    "/api/v1/ib/links",
    "/api/v1/ib/dashboard",
    "/api/v1/ib/network",
    "/api/v1/ib/clients",
    "/api/v1/ib/commissions",
    "/ib/commissions",
    "/api/v1/ib/statistics",
)


@dataclass(frozen=True)
class Sizes:
    partners: int
    clients: int
    lines: int
    requests: int


FULL = Sizes(partners=1_000, clients=200_000, lines=50_000, requests=200)
QUICK = Sizes(partners=200, clients=20_000, lines=2_000, requests=30)


async def seed(db: Database, settings: Settings, sizes: Sizes) -> None:
    """The broker: partner 1 (the signed-in IB) heads 10 sub-IBs with 10 sub-IBs each."""
    now = datetime.now(UTC)
    since = now - timedelta(days=400)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    async with db.transaction() as session:
        user = User(
            kind=CLIENT,
            email=EMAIL,
            password_hash=await hash_password(settings, PASSWORD),
            email_verified_at=now,
            created_at=now,
        )
        session.add(user)
        await session.flush()
        ib_client = user.id
        scheme = Scheme(name="Bench", currency="USD", created_at=since)
        session.add(scheme)
        await session.flush()
        version = SchemeVersion(
            scheme_id=scheme.id, version=1, effective_from=since, status="published", created_by="bench"
        )
        session.add(version)
        await session.flush()
        rule = Rule(
            scheme_version_id=version.id,
            code="fixed",
            kind="fixed",
            params={"amount_per_lot": 700},
            conditions={},
        )
        session.add(rule)
        await session.flush()
        version_id, rule_id = version.id, rule.id
    first_client = 10_000_000
    await bulk(
        db,
        Partner,
        [
            {
                "id": pid,
                "client_id": ib_client if pid == 1 else first_client - pid,
                "status": "active",
                "since": since,
            }
            for pid in range(1, sizes.partners + 1)
        ],
    )
    branch = [*range(2, 12), *range(12, 112)]
    edges = [
        {"partner_id": pid, "parent_id": 1, "valid_from": since, "created_by": "bench"}
        for pid in range(2, 12)
    ]
    edges += [
        {"partner_id": pid, "parent_id": 2 + (pid - 12) // 10, "valid_from": since, "created_by": "bench"}
        for pid in range(12, 112)
    ]
    await bulk(db, PartnerEdge, edges)
    in_branch = 2_000
    await bulk(
        db,
        ClientLink,
        [
            {
                "client_id": first_client + c,
                "partner_id": (
                    [1, *branch][c % (len(branch) + 1)] if c < in_branch else 112 + c % (sizes.partners - 111)
                ),
                "valid_from": since,
                "source": "staff",
                "created_by": "bench",
            }
            for c in range(sizes.clients)
        ],
    )
    symbols = ("EURUSD", "XAUUSD", "GBPUSD", "USDJPY")
    deals = []
    lines = []
    for n in range(sizes.lines):
        moment = month + timedelta(seconds=n % max(1, int((now - month).total_seconds())))
        client = first_client + n % in_branch
        deals.append(
            {
                "id": n + 1,
                "server": "bench",
                "ticket": n + 1,
                "login": 500_000 + n % in_branch,
                "client_id": client,
                "position_id": n + 1,
                "action": 1,
                "entry": 1,
                "symbol": symbols[n % len(symbols)],
                "volume_closed": 100_000_000,
                "contract_size": "100000",
                "profit": 0,
                "commission": 0,
                "currency_digits": 2,
                "time": moment,
                "fingerprint": f"f{n}",
                "deleted": False,
                "updated_at": now,
            }
        )
        lines.append(
            {
                "deal_id": n + 1,
                "beneficiary_id": 1,
                "rule_id": rule_id,
                "scheme_version_id": version_id,
                "rule_code": "fixed",
                "kind": "fixed",
                "level": 1 + n % 3,
                "rank_code": None,
                "trader_client_id": client,
                "deal_time": moment,
                "currency": "USD",
                "amount": 700,
                # as the engine stores a fixed rule's line: provenance by its plan's basis
                "basis_id": BASIS.id,
                "inputs": None,
                "formula": None,
                "revision": 1,
                "computed_at": now,
            }
        )
    await bulk(db, StoredDeal, deals)
    await bulk(
        db,
        LineBasis,
        [{"id": BASIS.id, "kind": BASIS.kind, "arguments": BASIS.arguments, "symbol_digits": 5}],
    )
    await bulk(db, CommissionLine, lines)
    async with db.engine.connect() as connection:  # what autovacuum would do after such a load
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql("ANALYZE")


@dataclass
class Served:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve(app: Any) -> Served:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.get_running_loop().create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    if not server.started:
        raise RuntimeError("uvicorn did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    return Served(f"http://127.0.0.1:{port}", server, task)


async def latencies(client: httpx.AsyncClient, path: str, count: int) -> list[float]:
    await client.get(path)  # warm up
    taken = []
    for _ in range(count):
        started = time.perf_counter()
        answer = await client.get(path)
        taken.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:200]}")
    return taken


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@get("/ping", sync_to_thread=False)
def ping() -> dict[str, str]:
    return {"status": "ok"}


async def measure(url: str, sizes: Sizes) -> list[Figure]:
    from portal.app import create_app

    settings = Settings(
        env="test",
        database_url=url,
        secret_key="bench-secret",
        argon2_time_cost=1,
        argon2_memory_kib=256,
        argon2_parallelism=1,
        storage_dir=tempfile.mkdtemp(prefix="bd-bench-files-"),
    )
    db = Database.from_url(url)
    try:
        await seed(db, settings, sizes)
    finally:
        await db.dispose()
    bare = await serve(Litestar(route_handlers=[ping]))
    portal = await serve(create_app(settings))
    # As a served app process does once its app is built (cli/commands/serve.py): else each full
    # collection walks the whole heap, seeding's leftovers included, in the middle of some request
    # (about 140 ms here, so one endpoint's p99 was whichever request it fell on).
    freeze_startup_objects()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request is not the app's cost
    figures: list[Figure] = []
    try:
        async with httpx.AsyncClient(base_url=bare.url) as client:
            baseline = statistics.median(await latencies(client, "/ping", sizes.requests))
        async with httpx.AsyncClient(base_url=portal.url) as client:
            form = (await client.get("/login")).text
            token = re.search(r'name="_csrf_token" value="([^"]+)"', form)
            assert token is not None
            signed = await client.post(
                "/login", data={"email": EMAIL, "password": PASSWORD, "_csrf_token": token.group(1)}
            )
            if signed.status_code not in (200, 303):
                raise RuntimeError(f"sign-in failed: {signed.status_code}")
            for path in ENDPOINTS:
                taken = await latencies(client, path, sizes.requests)
                name = path.strip("/").replace("/", "_").replace("api_v1_", "api_")
                for metric, value in (
                    (f"{name}_p50_ms", statistics.median(taken)),
                    (f"{name}_p99_ms", p99(taken)),
                ):
                    figures.append(Figure(metric, value, "ms", "bare_litestar_p50_ms", baseline))
    finally:
        await portal.stop()
        await bare.stop()
    return figures


async def run(admin_url: str, sizes: Sizes) -> list[Figure]:
    async with scratch_database(admin_url, f"bd_bench_ib_portal_{os.getpid()}") as (_dsn, url):
        await asyncio.to_thread(migrate.upgrade, url)
        return await measure(url, sizes)


def report(figures: list[Figure], sizes: Sizes, load: Callable[[], str]) -> None:
    print(
        f"\nIB portal benchmark: {sizes.partners:,} IBs, {sizes.clients:,} clients (2,000 in the measured"
        f" IB's branch of 111 IBs), {sizes.lines:,} lines this month; {sizes.requests} requests per page;"
        f" load average {load()}"
    )
    print(f"{'metric':<40}{'value':>10} {'unit':<5}{'ratio':>9}  baseline")
    for figure in figures:
        print(
            f"{figure.metric:<40}{figure.value:>10,.1f} {figure.unit:<5}{figure.ratio:>9.1f}  "
            f"{figure.baseline} = {figure.baseline_value:,.2f}"
        )
    print()
    print_json_lines(BENCH, figures, value_digits=2, ratio_digits=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller loads; finishes in under a minute")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL))
    parser.add_argument("--requests", type=int, help="requests per page")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.requests:
        sizes = Sizes(sizes.partners, sizes.clients, sizes.lines, args.requests)
    figures = asyncio.run(run(args.admin_url, sizes))
    report(figures, sizes, load_average)


if __name__ == "__main__":
    main()
