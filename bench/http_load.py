"""HTTP load benchmark on PostgreSQL and Redis with production-style servers (DESIGN.md §12).

In one run, on a database it creates, migrates and drops:

* a broker of 1,000 verified clients (``--quick``: 150) with full KYC and two live trading
  accounts each, and 50 admin staff members with TOTP enrolled;
* the portal and the back office under ``brokerdesk serve <app> --workers 2`` (uvicorn worker
  processes, ``BROKERDESK_ENV=production``, PostgreSQL, Redis sessions and rate limits), the PSP
  sandbox and a Dramatiq worker, each its own process on loopback, and a bare Litestar handler
  served the same way (uvicorn, same worker count and options) as the baseline;
* every client and staff member signed in over HTTP (staff with their TOTP code), then 50
  concurrent users per endpoint, each on one keep-alive connection, taking turns as their share of
  the signed-in people: the bare handler, the portal's dashboard (``/``), its trading accounts page
  (``/trading``), a card deposit request (``POST /funding/deposit/card`` through to the PSP's
  hosted page; one in ten a double submit of the previous idempotency key) and the back office's
  client list (``/clients``): requests/s, p50 and p99, and the ratio to the bare handler;
* then some of the deposits paid at the PSP sandbox, whose signed webhooks (some twice, some late)
  credit the wallets, and every money invariant checked: the trial balance of every currency, each
  ledger account's counters against its entries, each wallet against its credited deposits, one
  deposit row per idempotency key sent, and one credit per paid deposit.

The load generator is raw asyncio HTTP (bench/_http_client.py) on one core; its CPU use, each
server's, and the machine's load average are printed, since the servers share two cores with it.

Targets (issue 11): dashboard p99 under 100 ms and at least 30 % of the bare handler's requests/s.

Prints a table, then one JSON object per figure per line. ``--quick`` finishes in under a minute.

    python bench/http_load.py [--quick] [--admin-url postgresql://127.0.0.1:5432/test]
                         [--redis-url redis://127.0.0.1:6379/0] [--workers 2] [--seconds 15]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import json
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

import pyotp
import redis.asyncio as aioredis

from bench._common import DEFAULT_ADMIN_URL, Figure, load_average, print_json_lines, scratch_database
from bench._http_client import Connection, CookieJar, Reply
from bench._http_stack import BRIEF_ARGON2, Ports, Processes, server_environment, started, until_ready
from bench._http_world import PASSWORD, Check, Person, credited_count, money_invariants, seed
from core.db import Database, migrate
from core.settings import Settings

BENCH = "http"
DASHBOARD_P99_TARGET_MS = 100.0
THROUGHPUT_TARGET_RATIO = 0.30
DEPOSITS_PER_CLIENT = 8
"""Below the portal's money-action limit (10 a minute per client), so no deposit meets a 429."""
DOUBLE_SUBMIT_EVERY = 10
LATE_WEBHOOK_SECONDS = 3.5
"""The PSP sandbox sends some webhooks 3 s late: wait that long once every payment is credited."""


@dataclass(frozen=True)
class Sizes:
    clients: int
    staff: int
    users: int
    seconds: float
    warmup: float
    paid: int


FULL = Sizes(clients=1_000, staff=50, users=50, seconds=15.0, warmup=2.0, paid=400)
QUICK = Sizes(clients=150, staff=50, users=50, seconds=2.5, warmup=0.5, paid=60)


@dataclass
class SignedIn:
    person: Person
    jar: CookieJar
    csrf: str
    deposits: int = 0
    last_key: str | None = None


@dataclass
class User:
    """One simulated user: one keep-alive connection, taking turns as its share of the people."""

    connection: Connection
    people: list[SignedIn]
    turn: int = 0

    def next_person(self) -> SignedIn:
        person = self.people[self.turn % len(self.people)]
        self.turn += 1
        return person


@dataclass
class Phase:
    name: str
    app: str
    taken_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    loadgen_cpu: float = 0.0
    server_cpu: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.taken_ms) / self.elapsed if self.elapsed else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.taken_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.taken_ms) if self.taken_ms else 0.0

    @property
    def p99(self) -> float:
        return self.percentile(0.99)


Step = Callable[[User], Awaitable[str | None]]
"""One request of a user; answers what was wrong with the answer, or ``None``."""


# -- signing in -------------------------------------------------------------------------------------


async def sign_in_client(url: str, person: Person) -> SignedIn:
    connection, jar = Connection(url), CookieJar()
    try:
        token = (await connection.request("GET", "/login", jar=jar)).csrf_token()
        form = {"email": person.email, "password": PASSWORD, "_csrf_token": token, "next": "/"}
        answer = await connection.request("POST", "/login", jar=jar, form=form)
        if answer.status != 303:
            raise RuntimeError(f"{person.email} could not sign in: {answer.status} {answer.body[:200]!r}")
        return SignedIn(person, jar, token)
    finally:
        await connection.close()


async def sign_in_staff(url: str, person: Person) -> SignedIn:
    assert person.totp_secret is not None
    connection, jar = Connection(url), CookieJar()
    try:
        token = (await connection.request("GET", "/login", jar=jar)).csrf_token()
        form = {"email": person.email, "password": PASSWORD, "_csrf_token": token}
        first = await connection.request("POST", "/login", jar=jar, form=form)
        second_step = first.header("location") or ""
        if first.status != 303 or not second_step.startswith("/login/2fa"):
            raise RuntimeError(f"{person.email}: password step answered {first.status}")
        token = (await connection.request("GET", second_step, jar=jar)).csrf_token()
        code = pyotp.TOTP(person.totp_secret).now()
        second = await connection.request(
            "POST", "/login/2fa", jar=jar, form={"code": code, "_csrf_token": token}
        )
        if second.status != 303:
            raise RuntimeError(f"{person.email}: TOTP step answered {second.status}")
        return SignedIn(person, jar, token)
    finally:
        await connection.close()


async def all_signed_in(
    sign_in: Callable[[str, Person], Awaitable[SignedIn]], url: str, people: list[Person], at_once: int
) -> list[SignedIn]:
    gate = asyncio.Semaphore(at_once)

    async def one(person: Person) -> SignedIn:
        async with gate:
            return await sign_in(url, person)

    return list(await asyncio.gather(*(one(person) for person in people)))


# -- the requests -----------------------------------------------------------------------------------


def expect_page(path: str, marker: bytes) -> Step:
    async def step(user: User) -> str | None:
        person = user.next_person()
        answer = await user.connection.request("GET", path, jar=person.jar)
        if answer.status != 200:
            return f"{answer.status}"
        return None if marker in answer.body else "page without its content"

    return step


async def ping(user: User) -> str | None:
    answer = await user.connection.request("GET", "/ping")
    return None if answer.status == 200 else f"{answer.status}"


@dataclass
class Deposits:
    """The deposit requests made, by (client, idempotency key), with the PSP payment each opened."""

    psp_url: str
    payments: dict[tuple[int, str], str] = field(default_factory=dict)

    async def step(self, user: User) -> str | None:
        person = next((p for p in _rotation(user) if p.deposits < DEPOSITS_PER_CLIENT), None)
        if person is None:
            raise _UserDone
        person.deposits += 1
        double = person.last_key is not None and user.turn % DOUBLE_SUBMIT_EVERY == 0
        key = person.last_key if double and person.last_key else secrets.token_urlsafe(24)
        form = {"amount": "25.00", "currency": "USD", "idempotency_key": key, "_csrf_token": person.csrf}
        answer = await user.connection.request("POST", "/funding/deposit/card", jar=person.jar, form=form)
        return self._record(person, key, answer, double)

    def _record(self, person: SignedIn, key: str, answer: Reply, double: bool) -> str | None:
        location = answer.header("location") or ""
        if answer.status != 303 or not location.startswith(f"{self.psp_url}/pay/"):
            return f"{answer.status} to {location[:40] or 'nowhere'}"
        payment = location.rsplit("/", 1)[1]
        person.last_key = key
        known = self.payments.setdefault((person.person.id, key), payment)
        if known != payment:
            return "a double submit opened a second payment"
        return "double submit" if double else None


class _UserDone(Exception):
    """Raised when a user has no person left who may still make the request."""


def _rotation(user: User) -> list[SignedIn]:
    start = user.turn % len(user.people)
    user.turn += 1
    return user.people[start:] + user.people[:start]


async def run_phase(phase: Phase, users: list[User], step: Step, sizes: Sizes, processes: Processes) -> Phase:
    """Every user runs ``step`` in a loop for the warm-up, then for the measured seconds."""
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + sizes.warmup
    until = measure_from + sizes.seconds
    last_end = measure_from

    async def run(user: User) -> None:
        nonlocal last_end
        while (started_at := loop.time()) < until:
            try:
                problem = await step(user)
            except _UserDone:
                return
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                problem = f"no answer ({type(exc).__name__})"
                await user.connection.close()
            ended = loop.time()
            if started_at < measure_from:
                continue
            if problem == "double submit":  # a correct answer, counted as a request like any
                problem = None
            if problem is None:
                phase.taken_ms.append((ended - started_at) * 1000)
            else:
                phase.errors[problem] = phase.errors.get(problem, 0) + 1
            last_end = max(last_end, ended)

    await asyncio.sleep(0)
    cpu, server_cpu = time.process_time(), processes.cpu_seconds(phase.app)
    await asyncio.sleep(0)
    wall = time.perf_counter()
    await asyncio.gather(*(run(user) for user in users))
    wall = time.perf_counter() - wall
    phase.loadgen_cpu = (time.process_time() - cpu) / wall * 100
    phase.server_cpu = (processes.cpu_seconds(phase.app) - server_cpu) / wall * 100
    phase.elapsed = max(0.0, last_end - measure_from)
    return phase


def users_for(url: str, people: list[SignedIn], count: int) -> list[User]:
    return [User(Connection(url), people[n::count]) for n in range(count)]


async def close_all(users: list[User]) -> None:
    for user in users:
        await user.connection.close()


# -- paying and checking ----------------------------------------------------------------------------


async def pay(psp_url: str, payments: list[str], at_once: int = 8) -> int:
    """Approve ``payments`` at the PSP sandbox as its hosted page would; answers how many it took."""
    gate = asyncio.Semaphore(at_once)
    approved = 0

    async def one(payment: str) -> None:
        nonlocal approved
        connection = Connection(psp_url)
        async with gate:
            try:
                answer = await connection.request(
                    "POST",
                    f"/v1/payments/{payment}/decision",
                    json_body=json.dumps({"decision": "approve"}).encode(),
                )
            finally:
                await connection.close()
        if answer.status == 202:
            approved += 1

    await asyncio.gather(*(one(payment) for payment in payments))
    return approved


async def until_credited(db: Database, client_ids: list[int], paid: int, limit_seconds: float) -> float:
    started_at = time.perf_counter()
    while await credited_count(db, client_ids) < paid:
        if time.perf_counter() - started_at > limit_seconds:
            break
        await asyncio.sleep(0.25)
    return time.perf_counter() - started_at


@dataclass
class Outcome:
    phases: list[Phase]
    checks: list[Check]
    deposits: int
    paid: int
    credit_seconds: float
    load_before: str
    load_after: str
    workers: int
    stages: dict[str, float]


async def measure(url: str, redis_url: str, sizes: Sizes, workers: int) -> Outcome:
    files = tempfile.mkdtemp(prefix="bd-bench-http-")
    settings = Settings(
        env="test",
        database_url=url,
        secret_key="bench-secret",
        argon2_time_cost=int(BRIEF_ARGON2["BROKERDESK_ARGON2_TIME_COST"]),
        argon2_memory_kib=int(BRIEF_ARGON2["BROKERDESK_ARGON2_MEMORY_KIB"]),
        argon2_parallelism=4,
        storage_dir=files,
    )
    db = Database.from_url(url)
    prefix = f"bd-bench-http-{os.getpid()}:"
    ports = Ports()
    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal clock
        stages[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    try:
        clients, staff = await seed(db, settings, sizes.clients, sizes.staff)
        stage("seed")
        environment = server_environment(url, redis_url, prefix, ports, files)
        with started(environment, ports, workers, Path(files)) as processes:
            await until_ready(processes, ports, workers)
            stage("start")
            portal, backoffice, psp = ports.url("portal"), ports.url("backoffice"), ports.url("psp")
            signed_clients = await all_signed_in(sign_in_client, portal, clients, sizes.users)
            signed_staff = await all_signed_in(sign_in_staff, backoffice, staff, sizes.users)
            stage("sign-in")
            load_before = load_average()
            deposits = Deposits(psp)
            plan: list[tuple[Phase, str, list[SignedIn], Step]] = [
                (Phase("bare", "bare"), ports.url("bare"), signed_clients, ping),
                (Phase("dashboard", "portal"), portal, signed_clients, expect_page("/", b"Sign out")),
                (
                    Phase("accounts", "portal"),
                    portal,
                    signed_clients,
                    expect_page("/trading", b"trading-account"),
                ),
                (
                    Phase("client_list", "backoffice"),
                    backoffice,
                    signed_staff,
                    expect_page("/clients", b"@bench.example"),
                ),
                (Phase("deposit", "portal"), portal, signed_clients, deposits.step),
            ]
            phases = []
            for phase, base, people, step in plan:
                users = users_for(base, people, sizes.users)
                try:
                    phases.append(await run_phase(phase, users, step, sizes, processes))
                finally:
                    await close_all(users)
            load_after = load_average()
            stage("load")
            distinct = list(dict.fromkeys(deposits.payments.values()))
            paid = await pay(psp, distinct[: sizes.paid])
            ids = [person.id for person in clients]
            credit_seconds = await until_credited(db, ids, paid, limit_seconds=60.0)
            await asyncio.sleep(LATE_WEBHOOK_SECONDS)  # the sandbox's late and duplicate webhooks
            stage("pay")
            checks = await money_invariants(db, set(deposits.payments), paid)
            stage("check")
        return Outcome(
            phases,
            checks,
            len(deposits.payments),
            paid,
            credit_seconds,
            load_before,
            load_after,
            workers,
            stages,
        )
    finally:
        await db.dispose()
        await forget_redis_keys(redis_url, prefix)


async def forget_redis_keys(redis_url: str, prefix: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


async def run(admin_url: str, redis_url: str, sizes: Sizes, workers: int) -> Outcome:
    async with scratch_database(admin_url, f"bd_bench_http_{os.getpid()}") as (_dsn, url):
        await asyncio.to_thread(migrate.upgrade, url)
        return await measure(url, redis_url, sizes, workers)


# -- the report -------------------------------------------------------------------------------------


def figures_of(outcome: Outcome) -> list[Figure]:
    bare = next(phase for phase in outcome.phases if phase.name == "bare")
    figures = []
    for phase in outcome.phases:
        if phase is not bare:
            figures += [
                Figure(f"{phase.name}_rps", phase.rps, "1/s", "bare_litestar_rps", bare.rps),
                Figure(f"{phase.name}_p50_ms", phase.p50, "ms", "bare_litestar_p50_ms", bare.p50, False),
                Figure(f"{phase.name}_p99_ms", phase.p99, "ms", "bare_litestar_p99_ms", bare.p99, False),
            ]
        figures.append(
            Figure(f"{phase.name}_loadgen_cpu_pct", phase.loadgen_cpu, "%", "one_core_pct", 100.0, False)
        )
    return figures


def targets(outcome: Outcome) -> list[Check]:
    by_name = {phase.name: phase for phase in outcome.phases}
    bare, dashboard = by_name["bare"], by_name["dashboard"]
    ratio = dashboard.rps / bare.rps if bare.rps else 0.0
    return [
        Check(
            "dashboard p99 under 100 ms",
            dashboard.p99 < DASHBOARD_P99_TARGET_MS,
            f"p99 {dashboard.p99:.1f} ms",
        ),
        Check(
            "dashboard at least 30 % of the bare handler's requests/s",
            ratio >= THROUGHPUT_TARGET_RATIO,
            f"{dashboard.rps:,.0f} of {bare.rps:,.0f} requests/s = {ratio:.0%}",
        ),
    ]


def report(outcome: Outcome, sizes: Sizes) -> bool:
    bare = next(phase for phase in outcome.phases if phase.name == "bare")
    print(
        f"\nHTTP load benchmark: {sizes.clients:,} signed-in clients ({sizes.users} concurrent users taking"
        f" turns), {sizes.staff} signed-in staff; {outcome.workers} uvicorn workers per app; PostgreSQL,"
        f" Redis; {sizes.warmup:g} s warm-up + {sizes.seconds:g} s per endpoint"
    )
    print(
        f"load average before {outcome.load_before}, after {outcome.load_after}"
        " (2 cores; other work moves every figure)"
    )
    print(
        f"{'endpoint':<13}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs bare':>9}"
        f"{'loadgen CPU':>13}{'server CPU':>12}  errors"
    )
    for phase in outcome.phases:
        share = phase.rps / bare.rps if bare.rps else 0.0
        errors = ", ".join(f"{count} x {what}" for what, count in phase.errors.items()) or "none"
        print(
            f"{phase.name:<13}{len(phase.taken_ms):>9,}{phase.rps:>9,.0f}{phase.p50:>9.1f}{phase.p99:>9.1f}"
            f"{share:>9.0%}{phase.loadgen_cpu:>12.0f}%{phase.server_cpu:>11.0f}%  {errors}"
        )
    print(
        f"\n{outcome.deposits:,} deposit requests (idempotency keys); {outcome.paid} paid at the PSP sandbox,"
        f" credited by its webhooks within {outcome.credit_seconds:.1f} s"
    )
    print("time taken: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in outcome.stages.items()))
    everything = [*targets(outcome), *outcome.checks]
    for check in everything:
        print(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    print()
    print_json_lines(BENCH, figures_of(outcome), value_digits=2, ratio_digits=3)
    money_ok = all(check.ok for check in outcome.checks)
    errors = sum(sum(phase.errors.values()) for phase in outcome.phases)
    return money_ok and errors == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="fewer clients, 2.5 s per endpoint; under a minute"
    )
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL))
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="a Redis database",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes per app")
    parser.add_argument("--seconds", type=float, help="measured seconds per endpoint")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.seconds:
        sizes = replace(sizes, seconds=args.seconds)
    outcome = asyncio.run(run(args.admin_url, args.redis_url, sizes, args.workers))
    if not report(outcome, sizes):
        sys.exit(1)  # a broken money invariant or a wrong answer fails `make bench`


if __name__ == "__main__":
    main()
