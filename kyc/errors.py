"""KYC's errors, each with the message a client or reviewer can act on."""

from __future__ import annotations

from core.errors import BrokerDeskError


class KycError(BrokerDeskError):
    """Raised for any KYC failure."""


class InvalidProfileError(KycError):
    """Raised when profile fields fail validation; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class UnsupportedFileError(KycError):
    """Raised when an upload is not a JPEG, PNG or PDF by its content."""


class FileTooLargeError(KycError):
    """Raised when an upload is over the size limit."""


class DocumentNotFoundError(KycError):
    """Raised when a document does not exist or is not visible to the one asking."""


class ReviewError(KycError):
    """Raised when a review action does not fit the case's state."""


class SameReviewerError(ReviewError):
    """Raised when the second reviewer of a four-eyes case is the first one."""


class KycLevelRequiredError(KycError):
    """Raised when an action needs a higher KYC level than the client has."""

    def __init__(self, message: str, required: str) -> None:
        super().__init__(message)
        self.required = required


class WebhookRejectedError(KycError):
    """Raised when a provider webhook has a bad signature, a stale timestamp or was seen before."""


class InvalidConfigError(KycError):
    """Raised when compliance's KYC settings (questionnaire, country lists) fail validation."""


class ProviderUnavailableError(KycError):
    """Raised when the verification vendor can't be reached or refuses to open an applicant."""
