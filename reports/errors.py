"""The reports package's errors."""

from __future__ import annotations

from core.errors import BrokerDeskError


class ReportsError(BrokerDeskError):
    """Raised for failures of a report."""


class InvalidWindowError(ReportsError):
    """Raised when a report's date range is not a valid range of dates; ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownReportError(ReportsError):
    """Raised when a report or one of its tables does not exist."""
