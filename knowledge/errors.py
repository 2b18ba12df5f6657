"""The knowledge base's error tree."""

from __future__ import annotations

from core.errors import BrokerDeskError


class KnowledgeError(BrokerDeskError):
    """Raised for failures in the knowledge base."""


class InvalidArticleError(KnowledgeError):
    """Raised when an article or category form is invalid; ``field`` names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ArticleNotFoundError(KnowledgeError):
    """Raised when an article does not exist, or is a draft and the reader is a client."""


class CategoryNotFoundError(KnowledgeError):
    """Raised when a category does not exist."""
