"""The webhooks error tree."""

from __future__ import annotations

from core.errors import BrokerDeskError


class WebhooksError(BrokerDeskError):
    """Raised for failures in outbound webhooks."""


class InvalidEndpointError(WebhooksError):
    """Raised when an endpoint form is invalid; ``field`` names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class EndpointNotFoundError(WebhooksError):
    """Raised when a webhook endpoint does not exist."""


class DeliveryNotFoundError(WebhooksError):
    """Raised when a delivery does not exist or belongs to another endpoint."""
