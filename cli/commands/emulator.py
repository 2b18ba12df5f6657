"""``brokerdesk emulator``: the MT5 Web API emulator with its trade simulator, for demos and tests."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path
from typing import Any

from core.errors import SettingsError
from mt_bridge.emulator.config import DEFAULT_CONFIG_PATH, load_config
from mt_bridge.emulator.http_server import Emulator


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser(
        "emulator",
        help="serve the MT5 Web API emulator (HTTPS with a self-signed certificate, or plain HTTP)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4443, help="listen port (default 4443; 0 picks one)")
    parser.add_argument(
        "--manager",
        action="append",
        default=[],
        metavar="LOGIN:PASSWORD",
        help="a manager account allowed to sign in (repeatable; adds to the configuration's)",
    )
    parser.add_argument(
        "--plain", "--plain-http", dest="plain", action="store_true", help="serve HTTP, not HTTPS"
    )
    parser.add_argument(
        "--seed", type=int, help="seed for prices, simulator and faults (overrides the config)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        help=f"TOML configuration (default: {DEFAULT_CONFIG_PATH.name} beside the emulator)",
    )
    parser.add_argument("--no-simulator", action="store_true", help="do not trade in the background")
    parser.add_argument("--certificate-out", type=Path, help="write the self-signed certificate (PEM) here")
    parser.set_defaults(handler=run_emulator)


def parse_manager(value: str) -> tuple[int, str]:
    """``LOGIN:PASSWORD`` as a login and a password."""
    login, separator, password = value.partition(":")
    if not separator or not login.isdigit() or not password:
        raise SettingsError(f"--manager takes LOGIN:PASSWORD, got {value!r}")
    return int(login), password


def run_emulator(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    managers = dict(config.managers)
    managers.update(parse_manager(value) for value in args.manager)
    changes: dict[str, Any] = {"managers": managers}
    if args.seed is not None:
        changes["seed"] = args.seed
    config = config.with_changes(**changes)
    emulator = Emulator(config, tls=not args.plain, run_simulator=not args.no_simulator)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(emulator, args))
    return 0


async def _serve(emulator: Emulator, args: argparse.Namespace) -> None:
    await emulator.start(args.host, args.port)
    if emulator.certificate is not None and args.certificate_out is not None:
        args.certificate_out.write_bytes(emulator.certificate.certificate_pem)
    managers = ", ".join(str(login) for login in sorted(emulator.config.managers))
    print(
        f"MT5 emulator on {emulator.base_url} (managers: {managers}; seed {emulator.config.seed})", flush=True
    )
    try:
        await emulator.serve_forever()
    finally:
        await emulator.stop()
