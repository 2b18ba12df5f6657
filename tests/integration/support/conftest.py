"""Fixtures for the support tests: signed-in clients and staff, a small upload limit, and helpers
that open a ticket over HTTP."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db import Database
from core.settings import Settings
from support.models import SupportTicket, TicketAttachment, TicketMessage
from tests.helpers import submit
from tests.integration.settings.conftest import client_as, staff_as

__all__ = ["client_as", "staff_as"]

MAX_UPLOAD = 64 * 1024
PDF = b"%PDF-1.4\n" + b"statement " * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A 64 KiB upload limit, so the oversized attachment stays small."""
    return replace(settings, max_upload_bytes=MAX_UPLOAD, mail_from="Demo Broker <no-reply@broker.test>")


async def open_ticket(
    client: AsyncTestClient,
    *,
    subject: str = "My deposit has not arrived",
    message: str = "I sent 500 USD by wire on Monday.",
    category: str = "funding",
    priority: str = "high",
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> int:
    answer = await submit(
        client,
        "/support/new",
        "/support/new",
        {"category": category, "priority": priority, "subject": subject, "message": message},
        files=files,
    )
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[1])


async def tickets(db: Database) -> list[SupportTicket]:
    async with db.session() as session:
        return list(await session.scalars(select(SupportTicket).order_by(SupportTicket.id)))


async def messages(db: Database, ticket_id: int) -> list[TicketMessage]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)
            )
        )


async def attachments(db: Database) -> list[TicketAttachment]:
    async with db.session() as session:
        return list(await session.scalars(select(TicketAttachment).order_by(TicketAttachment.id)))


def stored_files(settings: Settings) -> list[Path]:
    root = Path(settings.storage_dir)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []
