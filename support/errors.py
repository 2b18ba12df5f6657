"""The support error tree."""

from __future__ import annotations

from core.errors import BrokerDeskError


class SupportError(BrokerDeskError):
    """Raised for failures in support tickets."""


class InvalidTicketInputError(SupportError):
    """Raised when a ticket, reply or note form is invalid; ``field`` names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class AttachmentTooLargeError(SupportError):
    """Raised when an attachment is larger than the upload limit; ``max_bytes`` is that limit."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The attachment is larger than {max_bytes / (1024 * 1024):g} MB.")
        self.max_bytes = max_bytes


class UnsupportedAttachmentError(SupportError):
    """Raised when an attachment is empty or, judged by its content, not a JPEG, PNG or PDF."""


class TicketNotFoundError(SupportError):
    """Raised when a ticket (or one of its attachments) does not exist or is not the viewer's."""


class TicketStateError(SupportError):
    """Raised when a ticket's status forbids the action (a reply to a closed ticket, say)."""


class CannedReplyNotFoundError(SupportError):
    """Raised when a canned reply does not exist."""


class InboundMailRefusedError(SupportError):
    """Raised when an inbound mail can't be threaded; ``smtp_reply`` is the SMTP answer to give."""

    def __init__(self, smtp_reply: str) -> None:
        super().__init__(smtp_reply)
        self.smtp_reply = smtp_reply
