"""``brokerdesk``: one command with a subcommand per job.

Each subcommand lives in its own module under :mod:`cli.commands` and registers itself in
:data:`COMMANDS`; a later issue adds its module to that tuple.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli.commands import (
    config,
    create_staff,
    db,
    demo,
    emulator,
    ib,
    psp_sandbox,
    scheduler,
    serve,
    support_inbound,
    totp,
    worker,
)
from core.errors import BrokerDeskError

COMMANDS = (
    demo,
    db,
    serve,
    worker,
    scheduler,
    create_staff,
    emulator,
    psp_sandbox,
    ib,
    config,
    totp,
    support_inbound,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brokerdesk", description="BrokerDesk: back office for forex brokers."
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except BrokerDeskError as exc:
        print(f"brokerdesk: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
