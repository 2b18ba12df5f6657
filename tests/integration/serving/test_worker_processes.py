"""``python -m cli.worker_processes`` (what ``brokerdesk serve --workers N`` runs): every process
takes a share of new connections, one that dies is replaced, SIGTERM stops them all and frees the
port, workers whose supervisor is killed outright stop by themselves, and a port that is taken
fails the command at once."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from tests.processes import children

ROOT = Path(__file__).resolve().parents[3]
APP = "tests.integration.serving.pid_app:create_app"
START_SECONDS = 120
"""Two spawned processes importing Litestar on a busy 2-core machine."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answering_pid(port: int) -> int:
    """The pid that answers one request on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/pid")
        return int(json.loads(connection.getresponse().read())["pid"])
    finally:
        connection.close()


def _running(pid: int) -> bool:
    """The process exists and has not exited (a zombie waiting for its reaper has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_for_pids(port: int, wanted: int, *, excluding: frozenset[int] = frozenset()) -> None:
    """Requests on new connections until ``wanted`` processes (none of ``excluding``) have answered."""
    deadline = time.monotonic() + START_SECONDS
    seen: Counter[int] = Counter()
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            seen[_answering_pid(port)] += 1
        if len(set(seen) - excluding) >= wanted:
            return
        time.sleep(0.05)
    raise AssertionError(f"only {sorted(seen)} answered within {START_SECONDS} s")


@contextlib.contextmanager
def _served(port: int, workers: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.worker_processes",
                APP,
                "--port",
                f"{port}",
                "--workers",
                f"{workers}",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield server
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_each_process_takes_connections_and_a_dead_one_is_replaced(tmp_path: Path) -> None:
    port = _free_port()
    with _served(port, 2, tmp_path / "serve.log") as server:
        _wait_for_pids(port, 2)
        # The kernel spreads new connections over the two listening sockets by a hash of their
        # addresses: each process gets a fair share, not whichever loop woke first.
        shares = Counter(_answering_pid(port) for _ in range(200))
        workers = set(shares)
        assert len(workers) == 2, shares
        assert workers <= children(server.pid)
        assert min(shares.values()) >= 50, shares

        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        _wait_for_pids(port, 2, excluding=frozenset({victim}))
        survivors = set(Counter(_answering_pid(port) for _ in range(50)))
        assert victim not in survivors
        assert len(survivors) == 2, survivors
        assert survivors <= children(server.pid)
        assert server.poll() is None, "the supervisor kept running"

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    for worker in workers | survivors:
        assert not _running(worker), f"worker {worker} outlived the server"
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))  # nothing listens on it any more


def test_a_port_taken_by_another_server_fails_the_command_at_once(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        log = tmp_path / "serve.log"
        with _served(port, 2, log) as server:
            assert server.wait(timeout=60) == 1
        assert f"cannot listen on 127.0.0.1:{port}" in log.read_text()


def test_workers_stop_by_themselves_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    port = _free_port()
    with _served(port, 2, tmp_path / "serve.log") as server:
        _wait_for_pids(port, 2)
        workers = set(Counter(_answering_pid(port) for _ in range(50)))
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        deadline = time.monotonic() + 30
        while any(_running(worker) for worker in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {worker for worker in workers if _running(worker)}
        assert not left, f"orphaned workers {left} kept serving"
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
