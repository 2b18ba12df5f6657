"""Risk's errors, under the one BrokerDesk error tree."""

from __future__ import annotations

from core.errors import BrokerDeskError


class RiskError(BrokerDeskError):
    """Raised when a risk operation is refused."""


class InvalidRiskConfigError(RiskError):
    """Raised when a threshold is not a valid value; names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


class AlertNotFoundError(RiskError):
    """Raised when no alert has the given id."""


class AlertStateError(RiskError):
    """Raised when an alert can't take the requested change (resolved already, unknown resolution …)."""


class InvalidAlertInputError(RiskError):
    """Raised when a staff member's input about an alert is not valid; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
