"""Read-only reports over every package's tables: funding, acquisition, trading, commissions, KYC
backlog and the ledger's trial balance. Queries only; no writes.
"""

from pathlib import Path

REPORTS_LOCALES = Path(__file__).parent / "locales"
"""The reports' catalogs: their titles, column names and fixed labels, which the pages translate."""
