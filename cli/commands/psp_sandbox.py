"""``brokerdesk psp-sandbox``: the loopback payment provider with its hosted page and signed webhooks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn

import cashier
from cashier.psp.sandbox import PspSandbox
from core.errors import SettingsError
from core.settings import Settings, load_settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DEMO_RATES_FILE = Path(cashier.__file__).parent / "demo_rates.json"
"""The demo's exchange-rate source: a local file the scheduled ``cashier.load_rates`` job reads."""


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser(
        "psp-sandbox",
        help="serve the PSP sandbox (hosted payment page, payouts, signed webhooks) on loopback",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (loopback only)")
    parser.add_argument(
        "--port", type=int, help="listen port (default: the port of BROKERDESK_PSP_SANDBOX_URL)"
    )
    parser.add_argument("--duplicate-rate", type=float, default=0.2, help="share of webhooks sent twice")
    parser.add_argument("--late-rate", type=float, default=0.2, help="share of webhooks sent late")
    parser.add_argument("--seed", type=int, help="seed for duplicates and delays")
    parser.set_defaults(handler=run_psp_sandbox)


def sandbox_port(settings: Settings) -> int:
    return urlsplit(settings.psp_sandbox_url).port or 8802


def build_sandbox(
    settings: Settings, *, duplicate_rate: float = 0.2, late_rate: float = 0.2, seed: int | None = None
) -> PspSandbox:
    return PspSandbox(
        secret=settings.effective_psp_webhook_secret.encode(),
        duplicate_rate=duplicate_rate,
        late_rate=late_rate,
        seed=seed,
    )


def run_psp_sandbox(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.host not in LOOPBACK:
        raise SettingsError(f"the PSP sandbox serves on loopback only, not on {args.host}")
    sandbox = build_sandbox(
        settings, duplicate_rate=args.duplicate_rate, late_rate=args.late_rate, seed=args.seed
    )
    print(f"PSP sandbox on http://{args.host}:{args.port or sandbox_port(settings)}/", flush=True)
    uvicorn.run(
        sandbox,
        host=args.host,
        port=args.port or sandbox_port(settings),
        log_config=None,
        server_header=False,
    )
    return 0
