"""Where the bridge's translations live: its messages, statuses and the trading-account pages'
labels, shared by the portal, the back office and bridge mail (apps add it to their translators)."""

from __future__ import annotations

from pathlib import Path

BRIDGE_LOCALES = Path(__file__).parent / "locales"
