"""Double-entry ledger: accounts, transfers, pending/post/void, reversals, FX, balances, reconciliation."""
