"""``brokerdesk serve portal|backoffice``: one app under uvicorn, with worker processes.

With ``--workers`` above one, each process listens on a socket of its own (``SO_REUSEPORT``, see
:mod:`cli.worker_processes`), so the kernel, not the race between event loops, spreads the
connections over them.

uvicorn runs on uvloop and httptools (dependencies; it picks them by itself). Not only for speed:
with ``--workers`` uvicorn binds the listening socket itself, without naming TCP as its protocol,
and the stock asyncio loop then leaves TCP_NODELAY off on every connection, so each response
(headers and body written apart) waited about 40 ms for the client's delayed ACK; uvloop sets it.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from litestar import Litestar

from cli.worker_processes import serve_in_processes
from core.gc_tuning import freeze_startup_objects
from core.settings import load_settings

FACTORIES = {"portal": "cli.commands.serve:portal_app", "backoffice": "cli.commands.serve:backoffice_app"}


def portal_app() -> Litestar:
    """The portal as each worker process serves it: built, then its start-up heap frozen."""
    from portal.app import create_app

    return _frozen(create_app())


def backoffice_app() -> Litestar:
    """The back office as each worker process serves it (see :func:`portal_app`)."""
    from backoffice.app import create_app

    return _frozen(create_app())


def _frozen(app: Litestar) -> Litestar:
    """An app process holds a large, permanent heap (Litestar's routes and signature models,
    SQLAlchemy's mappers, the translations); every request makes short-lived objects, and each
    full collection walked that whole heap again in the middle of some request: the slowest
    pages under load. Frozen (``core.gc_tuning``), it is out of the collector's sight."""
    freeze_startup_objects()
    return app


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser("serve", help="serve the portal or the back office")
    parser.add_argument("app", choices=sorted(FACTORIES))
    parser.add_argument("--host", help="listen address (default from settings)")
    parser.add_argument("--port", type=int, help="listen port (default from settings)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    host = args.host or getattr(settings, f"{args.app}_host")
    port = args.port or getattr(settings, f"{args.app}_port")
    options: dict[str, Any] = {
        "factory": True,
        "proxy_headers": True,
        "server_header": False,
        "log_config": None,
    }
    if args.workers > 1:
        return serve_in_processes(FACTORIES[args.app], host=host, port=port, workers=args.workers, **options)
    uvicorn.run(FACTORIES[args.app], host=host, port=port, **options)
    return 0
