"""Only the ledger changes a balance: no other package writes the account counters."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
COUNTERS = re.compile(r"\b(debits_posted|credits_posted|debits_pending|credits_pending)\b")
ALLOWED = {"ledger", "migrations", "tests", "bench", "node_modules", ".venv"}


def test_no_code_outside_the_ledger_names_the_balance_counters() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if path.relative_to(ROOT).parts[0] not in ALLOWED
        and COUNTERS.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_counters_are_written_by_the_posting_store_only() -> None:
    writers = []
    for path in (ROOT / "ledger").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if re.search(r"UPDATE accounts|update\(accounts_table\)", source):
            writers.append(path.name)
    assert writers == ["storage.py"]
