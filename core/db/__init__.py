"""Database access: the async engine, the declarative ``Base`` and the session factory."""

from core.db.base import Base, metadata
from core.db.database import Database

__all__ = ["Base", "Database", "metadata"]
