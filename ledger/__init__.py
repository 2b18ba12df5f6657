"""Double-entry ledger: accounts, transfers, pending/post/void, reversals, FX, balances, reconciliation.

The public surface, by job:

* :mod:`ledger.requests` — what to post (``posted``, ``pending``, ``post_pending``, ``void_pending``,
  ``expire_pending``, ``reversal``, ``Journal``) and the answers (``TransferResult``, ``Refusal``);
* :mod:`ledger.posting` — ``post`` (own transaction) and ``post_batch`` (caller's transaction);
* :mod:`ledger.chart` — the broker chart of accounts and the openers;
* :mod:`ledger.fx` — rates, quotes and conversion journals;
* :mod:`ledger.reading` — balances, ``balance_at``, statements, trial balance;
* :mod:`ledger.reconciliation` — comparing the ledger with a platform, PSP or bank;
* :mod:`ledger.expiry` — expiring timed-out pending transfers.
"""
