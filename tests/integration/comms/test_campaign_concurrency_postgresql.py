"""Real parallel workers on PostgreSQL: several jobs send the same campaign at once, as two worker
processes would after a redelivery, and each client is mailed exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from comms.campaign_sending import send_batch
from core.db import Database
from core.mail.templates import render_strings
from core.settings import Settings
from tests.conftest import BACKEND
from tests.integration.comms.conftest import Mailbox
from tests.integration.comms.helpers import act, add_clients, create_campaign, recipients, save_segment
from tests.integration.settings.conftest import StaffFactory

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(BACKEND != "postgresql", reason="real parallel connections need PostgreSQL"),
    pytest.mark.postgres_only,
]
CLIENTS = 24


@pytest.fixture
async def wide_db(database_url: str) -> AsyncIterator[Database]:
    database = Database.from_url(database_url, pool_size=12)
    yield database
    await database.dispose()


async def test_parallel_workers_mail_each_client_once(
    staff_as: StaffFactory,
    db: Database,
    wide_db: Database,
    settings: Settings,
    smtp_settings: Settings,
    mailbox: tuple[Mailbox, int],
) -> None:
    box, _ = mailbox
    staff = await staff_as("marketing@staff.test", ["support"])
    await add_clients(db, settings, *(f"c{n}@race.test" for n in range(CLIENTS)))
    segment_id = await save_segment(staff, "Race", "race.test")
    campaign_id = await create_campaign(staff, segment_id, mails_per_minute="20")
    assert (await act(staff, campaign_id, "send")).status_code == 303

    results = await asyncio.gather(
        *(send_batch(wide_db, smtp_settings, render_strings, campaign_id) for _ in range(4))
    )
    assert sum(result.claimed for result in results) == 20  # the rate holds across workers too
    mailed = Counter(message["To"] for message in box.messages)
    assert len(mailed) == 20
    assert set(mailed.values()) == {1}
    rows = await recipients(db, campaign_id)
    assert Counter(row.status for row in rows.values()) == {"delivered": 20, "pending": 4}
