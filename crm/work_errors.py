"""Errors of the CRM's work: leads, notes and tasks (below :class:`crm.errors.CrmError`)."""

from __future__ import annotations

from core.errors import NotFoundError
from crm.errors import CrmError


class LeadError(CrmError):
    """Raised when a lead's input is invalid; the message names the field."""


class DuplicateLeadError(LeadError):
    """Raised when a lead's email is already a lead's or a client's."""


class LeadTransitionError(LeadError):
    """Raised when a lead's status change is not allowed from where the lead stands."""


class LeadImportError(LeadError):
    """Raised when a CSV import has invalid rows; ``errors`` holds (line number, message) pairs."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} row error(s); nothing was imported")


class LeadNotFoundError(CrmError, NotFoundError):
    """Raised when no lead has the id, or the staff member's data scope does not cover it."""


class WorkItemError(CrmError):
    """Raised when a note's or task's input is invalid; the message names the field."""


class WorkItemNotFoundError(CrmError, NotFoundError):
    """Raised when a note or task does not exist on the client or lead it was asked for."""
