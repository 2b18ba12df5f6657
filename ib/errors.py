"""The IB error tree."""

from core.errors import BrokerDeskError


class IbError(BrokerDeskError):
    """Raised for any failure inside the ib package."""


class PartnerNotFoundError(IbError):
    """Raised when a partner id names no IB profile."""


class ApplicationStateError(IbError):
    """Raised when an application is decided twice, or a client applies while already an IB or pending."""


class CycleError(IbError):
    """Raised when a move would put an IB under itself or under one of its own sub-IBs."""


class EffectiveDateError(IbError):
    """Raised when a change would start before the record it replaces (history is never rewritten)."""


class AttributionError(IbError):
    """Raised when a referral code is unknown or inactive, or a client is already attributed."""


class SchemeError(IbError):
    """Raised when a scheme, version or rule is malformed or not in a state that allows the change."""


class AllocationError(IbError):
    """Raised when a sub-IB allocation exceeds the giver's own rate or is not to a direct sub-IB."""


class ScenarioError(IbError):
    """Raised when a simulator scenario file is malformed."""


class RecomputeError(IbError):
    """Raised when a recompute run is unknown or already published."""


class PayoutError(IbError):
    """Raised when a payout can't be made or decided (wrong state, nothing to pay)."""
