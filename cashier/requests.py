"""Helpers every request service shares: idempotent creation and loading a client's own rows."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.errors import CashierError, NotFoundError
from cashier.models import Deposit, Withdrawal

MAX_IDEMPOTENCY_KEY = 128
Row = TypeVar("Row", Deposit, Withdrawal)


def clean_key(key: str | None) -> str:
    """The client's idempotency key, or a refusal: every money request must carry one."""
    value = (key or "").strip()
    if not 8 <= len(value) <= MAX_IDEMPOTENCY_KEY or not value.isprintable():
        raise CashierError("This form has expired. Please reload the page and try again.")
    return value


async def by_key(session: AsyncSession, model: type[Row], client_id: int, key: str) -> Row | None:
    """The request this client already made with ``key``, if any."""
    found = await session.scalar(
        select(model).where(model.client_id == client_id, model.idempotency_key == key)
    )
    return found


async def locked(session: AsyncSession, model: type[Row], row_id: int, client_id: int | None = None) -> Row:
    """Load a request for change, locked on PostgreSQL (SQLite's write transaction already is)."""
    statement = select(model).where(model.id == row_id).with_for_update()
    if client_id is not None:
        statement = statement.where(model.client_id == client_id)
    row = await session.scalar(statement)
    if row is None:
        raise NotFoundError("No such request.")
    return row
