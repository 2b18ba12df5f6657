"""The root of BrokerDesk's error tree.

Each package defines its own root below :class:`BrokerDeskError` and leaf errors below that,
so a caller can catch a whole bounded context's failures or one precise failure.
"""


class BrokerDeskError(Exception):
    """Raised for any failure that BrokerDesk itself detects."""


class CoreError(BrokerDeskError):
    """Raised for failures inside the shared kernel."""


class SettingsError(CoreError):
    """Raised when the configuration is incomplete or invalid for the chosen environment."""


class NotFoundError(CoreError):
    """Raised when a requested object does not exist or is not visible to the caller."""


class PermissionDeniedError(CoreError):
    """Raised when the caller is known but may not do what they asked."""
