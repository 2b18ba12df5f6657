"""Serve an ASGI app from several uvicorn processes, each accepting on a listening socket of its own.

uvicorn's ``--workers`` hands every process one shared listening socket, and whichever process's
event loop wakes first takes each new connection. Under load one busy process keeps winning: in
bench/http_load.py runs, one of two workers often held most of the fifty connections while the
other idled (the servers used 90 to 96 % CPU between them instead of 140 to 150 %), and the
dashboard's p99 doubled. Here every process binds its own socket with ``SO_REUSEPORT``, and the kernel spreads
new connections over the sockets by a hash of their addresses, whatever each process is doing.

The supervisor only starts, restarts and stops: a process that exits is replaced, unless it keeps
exiting within :data:`STARTUP_GRACE_SECONDS` of its start (a port taken, an app that does not
import), when everything stops and the command fails. SIGINT or SIGTERM stops every process
gracefully, then kills whatever is left after :data:`STOP_SECONDS`; a worker whose supervisor is
killed outright stops by itself within a second or two.

A second server started on the same port by the same user joins the first rather than failing
(that is what ``SO_REUSEPORT`` means): a rolling restart can start the new server before
stopping the old one.

    python -m cli.worker_processes MODULE:FACTORY --port 8000 --workers 2 [--log-level info]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from typing import Any

import uvicorn

logger = logging.getLogger("brokerdesk.serve")

STARTUP_GRACE_SECONDS = 60.0
"""A process that exits sooner than this after its start failed to start (importing the app takes
well over ten seconds on a busy 2-core machine)."""
FAILED_STARTS = 3
"""Failed starts in a row of one process slot after which the whole server gives up."""
STOP_SECONDS = 30.0
"""How long the processes have to finish their requests once told to stop."""
POLL_SECONDS = 0.5
ORPHAN_CHECK_SECONDS = 1.0

_spawn = multiprocessing.get_context("spawn")


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with ``SO_REUSEPORT``, not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _stop_when_orphaned(parent_pid: int) -> None:
    """Stop this worker (gracefully, as SIGTERM does) once its supervisor is gone.

    A supervisor killed outright can't stop its workers, and with ``SO_REUSEPORT`` orphans would
    keep serving: a server started again on the port would join them instead of failing.
    """
    while os.getppid() == parent_pid:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


def _serve_one(app: str, host: str, port: int, options: dict[str, Any]) -> None:
    """One worker process: its own socket, one uvicorn server on it (which handles SIGINT/SIGTERM)."""
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True).start()
    config = uvicorn.Config(app, host=host, port=port, **options)
    try:
        sock = listening_socket(host, port)
    except OSError as error:
        logging.getLogger("uvicorn.error").error("cannot listen on %s:%d: %s", host, port, error)
        sys.exit(3)
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class _Slot:
    """One worker position: its current process, when that started, and its failed starts in a row."""

    process: SpawnProcess
    started: float
    failed_starts: int = 0


@dataclass
class Supervisor:
    app: str
    host: str
    port: int
    workers: int
    options: dict[str, Any] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    slots: list[_Slot] = field(default_factory=list)

    def _start(self) -> tuple[SpawnProcess, float]:
        process = _spawn.Process(
            target=_serve_one, args=(self.app, self.host, self.port, self.options), daemon=False
        )
        process.start()
        return process, time.monotonic()

    def run(self) -> int:
        """Serve until told to stop (0), or until a process keeps failing to start (1)."""
        try:
            listening_socket(self.host, self.port).close()  # fail fast, before spawning anything
        except OSError as error:
            logger.error("cannot listen on %s:%d: %s", self.host, self.port, error)
            return 1
        for _ in range(self.workers):
            process, started = self._start()
            self.slots.append(_Slot(process, started))
        logger.info("serving %s on %s:%d from %d processes", self.app, self.host, self.port, self.workers)
        failed = False
        while not self.stopping.wait(POLL_SECONDS):
            if not self._replace_exited():
                failed = True
                break
        self._stop_all()
        return 1 if failed else 0

    def _replace_exited(self) -> bool:
        """Replace each process that has exited; False once one has failed to start too often."""
        for slot in self.slots:
            if slot.process.is_alive() or self.stopping.is_set():
                continue
            slot.process.join()
            quick = time.monotonic() - slot.started < STARTUP_GRACE_SECONDS
            slot.failed_starts = slot.failed_starts + 1 if quick else 0
            logger.warning(
                "worker process %s exited with code %s%s",
                slot.process.pid,
                slot.process.exitcode,
                " soon after it started" if quick else "",
            )
            if slot.failed_starts >= FAILED_STARTS:
                logger.error("a worker process failed to start %d times in a row: stopping", FAILED_STARTS)
                return False
            slot.process, slot.started = self._start()
        return True

    def _stop_all(self) -> None:
        for slot in self.slots:
            if slot.process.is_alive() and slot.process.pid is not None:
                slot.process.terminate()  # SIGTERM: uvicorn finishes its requests, then exits
        deadline = time.monotonic() + STOP_SECONDS
        for slot in self.slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()

    def stop(self, *_signal: object) -> None:
        self.stopping.set()


def serve_in_processes(app: str, *, host: str, port: int, workers: int, **options: Any) -> int:
    """Serve ``app`` (uvicorn's ``module:attribute``) from ``workers`` processes; ``options`` go to
    each process's :class:`uvicorn.Config`. Returns the command's exit status."""
    supervisor = Supervisor(app, host, port, workers, options)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, supervisor.stop)
    return supervisor.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("app", help="MODULE:FACTORY, a function that returns the ASGI app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    return serve_in_processes(
        args.app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        factory=True,
        log_level=args.log_level,
        proxy_headers=True,
        server_header=False,
    )


if __name__ == "__main__":
    sys.exit(main())
