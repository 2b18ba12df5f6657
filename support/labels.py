"""What the apps call each category, priority and status: English msgids, translated when shown
(the catalog is ``support/locales``, which both apps add to their translators)."""

from __future__ import annotations

from pathlib import Path

SUPPORT_LOCALES = Path(__file__).parent / "locales"

CATEGORY_LABELS = {
    "account": "My account",
    "verification": "Verification (KYC)",
    "funding": "Deposits and withdrawals",
    "trading": "Trading and platforms",
    "partners": "Partner (IB) programme",
    "technical": "Technical problem",
    "other": "Something else",
}
PRIORITY_LABELS = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}
STATUS_LABELS = {
    "new": "New",
    "open": "Open",
    "waiting_on_client": "Waiting on client",
    "resolved": "Resolved",
    "closed": "Closed",
}
