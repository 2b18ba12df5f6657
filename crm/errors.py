"""The CRM error tree."""

from core.errors import BrokerDeskError


class CrmError(BrokerDeskError):
    """Raised for any failure inside the crm package."""


class OutOfScopeError(CrmError):
    """Raised when a staff member's data scope does not cover the client or lead they asked for."""


class InvalidScopeError(CrmError):
    """Raised when a data scope names an unknown kind, or a team scope has no team."""


class AssignmentError(CrmError):
    """Raised when a client is assigned to someone who is not active staff, or the client is not a client."""


class InvalidFilterError(CrmError):
    """Raised when a client-list filter has a value it can't take; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ClientNotFoundError(CrmError):
    """Raised when an id names no client (a 404, like a client outside the data scope)."""


class TagError(CrmError):
    """Raised when a tag's name or colour is invalid, its name is taken, or it does not exist."""


class SegmentError(CrmError):
    """Raised when a segment's name is empty, too long or taken, or it is not the staff member's own."""
