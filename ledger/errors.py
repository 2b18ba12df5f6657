"""The ledger's error tree.

Refusals of individual transfers (insufficient funds, a pending transfer already resolved…) are
*results*, not exceptions: a batch reports one per transfer. Exceptions are kept for misuse of the
API and for conditions the caller must handle around a whole transaction.
"""

from core.errors import BrokerDeskError


class LedgerError(BrokerDeskError):
    """Raised for any failure inside the ledger package."""


class UnknownCurrencyError(LedgerError):
    """Raised when a currency code is not in the currencies table."""


class AccountNotFoundError(LedgerError):
    """Raised when an account id or chart role does not name an existing account."""


class InvalidBatchError(LedgerError):
    """Raised when a batch is malformed as a whole (not a list of journals, an empty journal)."""


class ConcurrentPostingError(LedgerError):
    """Raised when a concurrent transaction claimed one of the batch's idempotency keys first.

    The caller's transaction is spoiled; retrying the batch in a new transaction returns either the
    original result (same content) or an idempotency refusal (different content).
    """


class InvalidRateError(LedgerError):
    """Raised when an exchange rate or spread is not a positive finite decimal in range."""


class RateNotFoundError(LedgerError):
    """Raised when no exchange rate is recorded for a currency pair at the requested time."""
