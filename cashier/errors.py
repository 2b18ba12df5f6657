"""The cashier's error tree: one root, one leaf per reason, each message fit to show a client."""

from core.errors import BrokerDeskError


class CashierError(BrokerDeskError):
    """Raised for any refusal or failure inside the cashier package."""


class InvalidAmountError(CashierError):
    """Raised when an amount typed by a person is not a positive number within the currency's scale."""


class UnsupportedCurrencyError(CashierError):
    """Raised when a currency is not offered by the cashier."""


class NotAllowedError(CashierError):
    """Raised when an injected gate (KYC level, say) refuses the client this operation."""


class InsufficientFundsError(CashierError):
    """Raised when the wallet's available balance can't cover a withdrawal or transfer."""


class LimitExceededError(CashierError):
    """Raised when a per-transaction or daily limit would be passed."""


class DestinationError(CashierError):
    """Raised when a payout destination is not verified or not in the client's own name."""


class ChargebackOpenError(CashierError):
    """Raised when the client has a chargeback pending and may not withdraw."""


class NotFoundError(CashierError):
    """Raised when a deposit, withdrawal or bank account does not exist or is not the caller's."""


class InvalidStateError(CashierError):
    """Raised when an action does not fit the request's current status (approve a paid one, say)."""


class SameApproverError(CashierError):
    """Raised when the first approver of a four-eyes withdrawal tries to give the second approval."""


class WebhookRejectedError(CashierError):
    """Raised when a PSP webhook fails its signature, freshness, or matching checks."""


class PaymentProviderError(CashierError):
    """Raised when a PSP can't be reached or answers with an error."""


class InvalidBankAccountError(CashierError):
    """Raised when an IBAN, BIC or account number is malformed (or is a card number)."""


class InvalidFileError(CashierError):
    """Raised when an uploaded proof of payment is empty, too large or not a PDF/JPEG/PNG."""


class RateError(CashierError):
    """Raised when an exchange rate entry or file is malformed or no rate exists for a pair."""
