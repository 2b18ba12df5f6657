"""``brokerdesk config``: print every setting, its variable, default and purpose."""

from __future__ import annotations

import argparse
from typing import Any

from core.settings import settings_table


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser("config", help="print the configuration table (Markdown)")
    parser.set_defaults(handler=print_table)


def markdown_table() -> str:
    lines = ["| variable | default | what it does |", "|---|---|---|"]
    for name, default, doc in settings_table():
        lines.append(f"| `{name}` | {f'`{default}`' if default else ''} | {doc} |")
    return "\n".join(lines)


def print_table(_args: argparse.Namespace) -> int:
    print(markdown_table())
    return 0
