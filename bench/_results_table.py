"""Run benchmark scripts and print their figures as the Markdown tables of docs/benchmarks.md.

Each script prints one JSON object per figure on its own line (DESIGN.md §12); this reads those
lines and nothing else, so the tables hold exactly what the scripts measured in this run.

    python bench/_results_table.py [--quick] [script ...]   # default: every bench/*.py

The leading underscore keeps ``make bench`` from running this file as a benchmark.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def figures_of(output: str) -> list[dict[str, object]]:
    """The JSON figure lines of one script's output, in the order printed."""
    found: list[dict[str, object]] = []
    for line in output.splitlines():
        line = line.strip()
        if not (line.startswith("{") and '"metric"' in line):
            continue
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return found


def number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"


def section(script: Path, quick: bool, seconds: float, figures: list[dict[str, object]]) -> str:
    command = f".venv/bin/python bench/{script.name}" + (" --quick" if quick else "")
    lines = [
        f"### `bench/{script.name}`",
        "",
        f"Command: `{command}` (whole run: {seconds:.1f} s wall-clock)",
        "",
        "| metric | value | unit | baseline (same run) | ratio |",
        "|---|---:|---|---|---:|",
    ]
    for figure in figures:
        lines.append(
            f"| `{figure.get('metric')}` | {number(figure.get('value'))} | {figure.get('unit', '')} "
            f"| `{figure.get('baseline', '')}` | {number(figure.get('ratio', ''))} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("scripts", nargs="*", help="script names (default: every bench/*.py)")
    arguments = parser.parse_args()
    scripts = [BENCH / name for name in arguments.scripts] or sorted(
        path for path in BENCH.glob("*.py") if not path.name.startswith("_")
    )
    failed = 0
    for script in scripts:
        started = time.perf_counter()
        command = [sys.executable, str(script)] + (["--quick"] if arguments.quick else [])
        run = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            failed += 1
            print(f"<!-- bench/{script.name} exited {run.returncode}: {run.stderr[-300:]!r} -->\n")
        print(section(script, arguments.quick, seconds, figures_of(run.stdout)), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
