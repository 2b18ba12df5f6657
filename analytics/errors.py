"""The analytics error tree."""

from core.errors import BrokerDeskError


class AnalyticsError(BrokerDeskError):
    """Raised for any failure inside the analytics package."""


class InvalidAnalyticsSettingError(AnalyticsError):
    """Raised when a submitted analytics setting is invalid; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidMetricFilterError(AnalyticsError):
    """Raised when a client-list filter on the figures has a value it can't take; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
