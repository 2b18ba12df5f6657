"""The declarative ``Base`` every package's tables derive from.

A constraint naming convention makes constraint names stable, so Alembic migrations can drop and
alter them by name on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """Declarative base with the shared metadata; timestamps are always timezone-aware."""

    metadata = metadata
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        int: BigInteger().with_variant(Integer(), "sqlite"),
    }
