"""Driving campaigns over HTTP the way staff do, and reading what they did."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from comms.campaign_models import CampaignRecipient
from core.db import Database
from core.identity.models import User
from core.settings import Settings
from tests.helpers import make_client, submit
from tests.integration.settings.conftest import page_text

BODY = (
    "Hello {{ client.name }},\n\nOur new spreads are here: https://broker.example.com/offer?src=mail\n\n"
    "Read more at https://broker.example.com/blog."
)


async def add_clients(db: Database, settings: Settings, *emails: str, language: str = "en") -> list[int]:
    ids = [await make_client(db, settings, address) for address in emails]
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id.in_(ids)).values(language=language))
    return ids


async def save_segment(staff: AsyncTestClient, name: str, q: str) -> int:
    saved = await submit(staff, "/clients", "/clients/segments", {"name": name, "q": q, "shared": "1"})
    assert saved.status_code == 303, page_text(saved.text)
    return int(saved.headers["location"].rstrip("/").rsplit("/", 1)[1])


def campaign_form(segment_id: int, **fields: str) -> dict[str, str]:
    return {
        "name": "December spreads",
        "segment_id": str(segment_id),
        "subject_en": "News for {{ client.name }}",
        "body_en": BODY,
        "subject_zh_hans": "{{ client.name }}，新点差",  # noqa: RUF001
        "body_zh_hans": "您好 {{ client.name }}：https://broker.example.com/offer?src=mail",  # noqa: RUF001
        "mails_per_minute": "100",
        **fields,
    }


async def create_campaign(staff: AsyncTestClient, segment_id: int, **fields: str) -> int:
    made = await submit(staff, "/campaigns/new", "/campaigns", campaign_form(segment_id, **fields))
    assert made.status_code == 303, page_text(made.text)
    return int(made.headers["location"].rsplit("/", 1)[1])


async def act(staff: AsyncTestClient, campaign_id: int, action: str, **data: Any) -> Any:
    return await submit(staff, f"/campaigns/{campaign_id}", f"/campaigns/{campaign_id}/{action}", data)


async def recipients(db: Database, campaign_id: int) -> dict[str, CampaignRecipient]:
    async with db.session() as session:
        rows = (
            await session.execute(
                select(CampaignRecipient, User.email)
                .join(User, User.id == CampaignRecipient.client_id)
                .where(CampaignRecipient.campaign_id == campaign_id)
            )
        ).all()
    return {address: row for row, address in rows}


def shown_count(html: str, name: str) -> int:
    match = re.search(rf'data-count="{name}">(\d+)<', html)
    assert match, f"no {name} count on the page"
    return int(match.group(1))


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())
