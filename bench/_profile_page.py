"""Profile one worker process of an app serving one page under load (a tool, not a benchmark).

Seeds the same broker as bench/http_load.py into a scratch PostgreSQL database, serves the portal
or the back office as one uvicorn process under cProfile (production settings, Redis), signs in
clients (or staff) and keeps ``--users`` keep-alive connections busy on ``--path`` for
``--seconds``; then stops the server so cProfile writes its file and prints the top functions.
With ``--echo`` the server logs its SQL instead, and the script prints statements per request.

    python bench/_profile_page.py [--app portal] [--path /] [--seconds 8] [--echo]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import os
import pstats
import signal
import subprocess
import tempfile
import time

from bench._common import DEFAULT_ADMIN_URL, scratch_database
from bench._http_stack import BRIEF_ARGON2, Ports, server_environment
from bench._http_world import seed
from bench.http_load import (
    QUICK,
    Phase,
    expect_page,
    run_phase,
    sign_in_client,
    sign_in_staff,
    users_for,
)
from core.db import Database, migrate
from core.settings import Settings

MARKERS = {"/": b"Sign out", "/trading": b"trading-account", "/clients": b"@bench.example"}


class _One:
    """Just enough of bench._http_stack.Processes for run_phase's CPU figures."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_seconds(self, _name: str) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main(args: argparse.Namespace) -> None:
    async with scratch_database(args.admin_url, f"bd_profile_{os.getpid()}") as (_dsn, url):
        await asyncio.to_thread(migrate.upgrade, url)
        files = tempfile.mkdtemp(prefix="bd-profile-")
        settings = Settings(
            env="test",
            database_url=url,
            secret_key="x",
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            argon2_parallelism=4,
            storage_dir=files,
        )
        db = Database.from_url(url)
        clients, staff = await seed(db, settings, QUICK.clients, 50)
        await db.dispose()
        ports = Ports()
        env = server_environment(url, args.redis_url, f"bd-profile-{os.getpid()}:", ports, files)
        env.update(BRIEF_ARGON2)
        if args.echo:
            env["BROKERDESK_DB_ECHO"] = "true"
        port = getattr(ports, args.app)
        out = Path(files) / "server.prof"
        command = [sys.executable]
        if not args.echo and not args.spy:
            command += ["-m", "cProfile", "-o", str(out)]
        command += ["-m", "cli.main", "serve", args.app, "--workers", "1", "--port", str(port)]
        log = (Path(files) / "server.log").open("wb")
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
        try:
            base = ports.url(args.app)
            await _until_up(base)
            sign_in = sign_in_client if args.app == "portal" else sign_in_staff
            people = clients if args.app == "portal" else staff
            signed = [await sign_in(base, person) for person in people[: max(args.users, 50)]]
            sizes = QUICK.__class__(**{**QUICK.__dict__, "seconds": args.seconds, "users": args.users})
            phase = Phase(args.path, "server")
            step = expect_page(args.path, MARKERS.get(args.path, b""))
            users = users_for(base, signed, args.users)
            started_at = (Path(files) / "server.log").stat().st_size
            spy = None
            if args.spy:
                spy = subprocess.Popen(  # noqa: ASYNC220 (a tool: started once, before the load)
                    [
                        *(str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw"),
                        *("-r", "200", "-o", str(out), "-p", str(server.pid)),
                        *("-d", str(int(args.seconds + QUICK.warmup))),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            await run_phase(phase, users, step, sizes, _One(server.pid))  # type: ignore[arg-type]
            print(
                f"{args.path}: {len(phase.taken_ms)} requests, {phase.rps:.0f} req/s,"
                f" p50 {phase.p50:.1f} ms, p99 {phase.p99:.1f} ms, server CPU {phase.server_cpu:.0f}%,"
                f" errors {phase.errors}"
            )
            if spy is not None:
                spy.wait(timeout=60)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        if args.echo:
            text = (Path(files) / "server.log").read_bytes()[started_at:].decode(errors="replace")
            statements = [
                line
                for line in text.splitlines()
                if "sqlalchemy.engine.Engine" in line and "[" not in line[-12:]
            ]
            total = len(phase.taken_ms) + sum(phase.errors.values())
            print(f"{len(statements)} log lines of SQL for ~{total} requests (warm-up included)")
            print(text[-6000:])
        elif args.spy:
            _collapsed(out, args.top)
        else:
            stats = pstats.Stats(str(out))
            stats.sort_stats(args.sort).print_stats(args.top)


def _collapsed(path: Path, top: int) -> None:
    """Own and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
    for title, table in (("own", own), ("inclusive", inclusive)):
        print(f"-- {title} ({total} samples)")
        for frame, n in sorted(table.items(), key=lambda item: -item[1])[:top]:
            print(f"{n / total:6.1%}  {frame[:160]}")


async def _until_up(base: str) -> None:
    from bench._http_client import Connection

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        connection = Connection(base)
        try:
            if (await connection.request("GET", "/healthz")).status == 200:
                return
        except OSError:
            await asyncio.sleep(0.3)
        finally:
            await connection.close()
    raise TimeoutError(base)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", default="portal", choices=["portal", "backoffice"])
    parser.add_argument("--path", default="/")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--echo", action="store_true")
    parser.add_argument("--spy", action="store_true", help="sample with py-spy instead of cProfile")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    asyncio.run(main(parser.parse_args()))
