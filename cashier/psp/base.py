"""What the cashier needs from any payment service provider (PSP).

A real PSP and the loopback sandbox implement the same :class:`PaymentProvider`. Results are plain
values; network failures raise :class:`cashier.errors.PaymentProviderError`, a bad webhook raises
:class:`cashier.errors.WebhookRejectedError`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class PaymentState(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"

    @property
    def is_final(self) -> bool:
        return self is not PaymentState.PENDING


class EventType(enum.StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_DECLINED = "payment.declined"
    CHARGEBACK_OPENED = "chargeback.opened"
    CHARGEBACK_CLOSED = "chargeback.closed"


@dataclass(frozen=True)
class CreatedPayment:
    payment_id: str
    hosted_url: str


@dataclass(frozen=True)
class PaymentStatus:
    """The PSP's answer about one payment (webhook or status query), amounts in minor units."""

    payment_id: str
    reference: str
    state: PaymentState
    amount: int
    currency: str


@dataclass(frozen=True)
class PaymentEvent:
    """A verified webhook."""

    event_id: str
    type: EventType
    payment: PaymentStatus


@dataclass(frozen=True)
class Payout:
    payout_id: str
    state: PaymentState


class PaymentProvider(Protocol):
    name: str

    async def create_payment(
        self, *, reference: str, amount: int, currency: str, return_url: str, callback_url: str
    ) -> CreatedPayment:
        """Open a payment the client completes on the PSP's hosted page."""
        ...

    def hosted_page_url(self, payment_id: str) -> str:
        """Where the client pays."""
        ...

    def parse_webhook(self, headers: dict[str, str], body: bytes, now: datetime) -> PaymentEvent:
        """Verify the signature and freshness, then parse; or raise WebhookRejectedError."""
        ...

    async def query_status(self, payment_id: str) -> PaymentStatus:
        """Ask the PSP what became of a payment (the poll that backs up a lost webhook)."""
        ...

    async def refund(self, payment_id: str, amount: int) -> str:
        """Refund (part of) a payment; answers the refund's id."""
        ...

    async def payout(self, *, reference: str, amount: int, currency: str, destination: str) -> Payout:
        """Send money back to the client; ``reference`` makes a retry return the first payout."""
        ...
