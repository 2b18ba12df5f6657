"""The servers bench/http_load.py measures, each its own process group as production runs them:

* the portal and the back office through ``brokerdesk serve <app> --workers N`` (uvicorn worker
  processes, each on a listening socket of its own: :mod:`cli.worker_processes`), configured by
  environment variables as in production (``BROKERDESK_ENV=production``, PostgreSQL, Redis);
* the PSP sandbox (``brokerdesk psp-sandbox``), which calls the portal's webhook back;
* a Dramatiq worker (``brokerdesk worker``) for the jobs the requests enqueue;
* the bare Litestar handler under the same worker processes, count and options.

Loopback only; every process is stopped (its whole group) when the run ends, however it ends.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench._http_client import Connection

ROOT = Path(__file__).resolve().parent.parent
BRIEF_ARGON2 = {"BROKERDESK_ARGON2_TIME_COST": "1", "BROKERDESK_ARGON2_MEMORY_KIB": "1024"}
"""Sign-in is not what is measured: cheap hashes let the run sign in hundreds of clients quickly."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Ports:
    portal: int = field(default_factory=free_port)
    backoffice: int = field(default_factory=free_port)
    psp: int = field(default_factory=free_port)
    bare: int = field(default_factory=free_port)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self, name)}"


def server_environment(
    database_url: str, redis_url: str, prefix: str, ports: Ports, files: str
) -> dict[str, str]:
    """The environment a production deployment sets, pointed at this run's database and ports."""
    return {
        **os.environ,
        **BRIEF_ARGON2,
        "PYTHONPATH": str(ROOT),
        "BROKERDESK_ENV": "production",
        "BROKERDESK_SECRET_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BROKERDESK_REDIS_PREFIX": prefix,
        "BROKERDESK_PORTAL_HOST": "127.0.0.1",
        "BROKERDESK_PORTAL_PORT": str(ports.portal),
        "BROKERDESK_PORTAL_URL": ports.url("portal"),
        "BROKERDESK_BACKOFFICE_HOST": "127.0.0.1",
        "BROKERDESK_BACKOFFICE_PORT": str(ports.backoffice),
        "BROKERDESK_BACKOFFICE_URL": ports.url("backoffice"),
        "BROKERDESK_PSP_SANDBOX_URL": ports.url("psp"),
        "BROKERDESK_PSP_WEBHOOK_SECRET": secrets.token_hex(32),
        "BROKERDESK_STORAGE_DIR": files,
        # one loopback address signs in every simulated client: the per-IP sign-in limit is for
        # the open internet, and sign-in is not what is measured
        "BROKERDESK_IP_ATTEMPTS_PER_WINDOW": "1000000",
    }


def _brokerdesk() -> list[str]:
    return [sys.executable, "-m", "cli.main"]


def commands(ports: Ports, workers: int) -> dict[str, list[str]]:
    bare = [
        sys.executable,
        "-m",
        "cli.worker_processes",  # the same per-process listening sockets as brokerdesk serve
        "bench._http_bare:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(ports.bare),
        "--workers",
        str(workers),
        "--log-level",
        "info",  # an access line per request, as the portal and the back office write
    ]
    return {
        "portal": [*_brokerdesk(), "serve", "portal", "--workers", str(workers)],
        "backoffice": [*_brokerdesk(), "serve", "backoffice", "--workers", str(workers)],
        "psp": [*_brokerdesk(), "psp-sandbox", "--port", str(ports.psp), "--seed", "11"],
        "worker": [*_brokerdesk(), "worker", "--processes", "1", "--threads", "2"],
        "bare": bare,
    }


@dataclass
class Processes:
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    log_dir: Path = field(default_factory=Path)

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.running.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def cpu_seconds(self, name: str) -> float:
        """User + system CPU of the process ``name`` and its worker processes so far (Linux /proc)."""
        return sum(_cpu_of(pid) for pid in _family(self.running[name].pid))


def _family(pid: int) -> list[int]:
    found = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            for child in children:
                found += _family(int(child))
    except OSError:
        pass
    return found


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def started(environment: dict[str, str], ports: Ports, workers: int, log_dir: Path) -> Iterator[Processes]:
    processes = Processes(log_dir=log_dir)
    try:
        for name, command in commands(ports, workers).items():
            log = (log_dir / f"{name}.log").open("wb")
            processes.running[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        yield processes
    finally:
        processes.stop()


async def until_ready(processes: Processes, ports: Ports, workers: int, limit_seconds: float = 300.0) -> None:
    """Wait until each web server answers; a server that exits says so with its log's tail."""
    probes = {"portal": "/healthz", "backoffice": "/healthz", "bare": "/ping", "psp": "/v1/payments/none"}
    deadline = time.monotonic() + limit_seconds
    for name, path in probes.items():
        connection = Connection(ports.url(name))
        while True:
            if processes.running[name].poll() is not None:
                tail = (processes.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} stopped while starting:\n{tail}")
            try:
                reply = await connection.request("GET", path)
                if reply.status in (200, 404):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not answer within {limit_seconds:.0f} s")
            await asyncio.sleep(0.2)
        await connection.close()
    await _every_worker_started(processes, workers, deadline)


async def _every_worker_started(processes: Processes, workers: int, deadline: float) -> None:
    """The first worker answers while the others may still import the app: wait for them all, so
    no measured phase shares the CPU with a worker starting up."""
    for name in ("portal", "backoffice", "bare"):
        log = processes.log_dir / f"{name}.log"
        while log.read_text(errors="replace").count("Application startup complete") < workers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: not every worker process started")
            await asyncio.sleep(0.2)
