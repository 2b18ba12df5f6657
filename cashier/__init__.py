"""Money in and out: wallets, PSP and wire deposits, withdrawals, bank accounts, rates, statements.

Every movement goes through :func:`ledger.posting.post_batch` inside a cashier transaction (see
:mod:`cashier.transactions`). Rules owned by other packages (KYC levels) arrive as callables wired
by the apps (:mod:`cashier.gates`). No web framework is imported here.
"""
