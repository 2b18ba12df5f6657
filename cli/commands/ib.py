"""``brokerdesk ib simulate FILE``: run a commission scenario through the production engine core."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ib.errors import ScenarioError
from ib.simulator import as_text, load, simulate


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser("ib", help="introducing brokers: try commission schemes")
    actions = parser.add_subparsers(dest="ib_command", required=True, metavar="ACTION")
    simulate_parser = actions.add_parser(
        "simulate",
        help="print each IB's lines for a scenario (tree, ranks, rules, deals; see docs/ib-scenarios.md)",
    )
    simulate_parser.add_argument("file", type=Path, help="the scenario, a JSON file ('-' reads stdin)")
    simulate_parser.set_defaults(handler=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    path: Path = args.file
    if str(path) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"can't read {path}: {exc.strerror}") from exc
    result = simulate(load(text))
    print(as_text(result))
    return 0
