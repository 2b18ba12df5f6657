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
