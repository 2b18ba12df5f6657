"""The comms error tree."""

from __future__ import annotations

from core.errors import BrokerDeskError


class CommsError(BrokerDeskError):
    """Raised for failures in client communications."""


class InvalidAnnouncementError(CommsError):
    """Raised when an announcement form is invalid; ``field`` names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class AnnouncementNotFoundError(CommsError):
    """Raised when an announcement does not exist or is not shown to this client."""
