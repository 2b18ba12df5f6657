"""The comms error tree."""

from __future__ import annotations

from core.errors import BrokerDeskError


class CommsError(BrokerDeskError):
    """Raised for failures in client communications."""


class InvalidFormError(CommsError):
    """Raised when a form staff or clients submitted is invalid; ``field`` names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidAnnouncementError(InvalidFormError):
    """Raised when an announcement form is invalid; ``field`` names the field at fault."""


class AnnouncementNotFoundError(CommsError):
    """Raised when an announcement does not exist or is not shown to this client."""


class CampaignError(CommsError):
    """Raised for failures of marketing mail campaigns."""


class InvalidCampaignError(InvalidFormError, CampaignError):
    """Raised when a campaign form is invalid; ``field`` names the field at fault."""


class CampaignNotFoundError(CampaignError):
    """Raised when a campaign does not exist."""


class CampaignStateError(CampaignError):
    """Raised when a campaign can't do what was asked in its state (edit a sent one, say)."""


class EmptySegmentError(CampaignError):
    """Raised when a campaign's segment holds no client to mail: nothing is scheduled or sent."""


class BadTrackingTokenError(CampaignError):
    """Raised when an open, click or unsubscribe link's signature does not match."""
