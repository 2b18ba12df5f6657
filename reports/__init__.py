"""Read-only reports over every package's tables: funding, acquisition, trading, commissions, KYC
backlog and the ledger's trial balance. Queries only; no writes.
"""
