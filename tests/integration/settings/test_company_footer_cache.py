"""The portal keeps the company details of its footer for a few seconds per process: a change
saved in the back office (another process) shows on the portal's pages once that time is up."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from core.held import Held
from portal.company_footer import COMPANY_TTL_SECONDS, company_held
from tests.helpers import submit
from tests.integration.settings.conftest import ClientFactory, StaffFactory, page_text

pytestmark = pytest.mark.asyncio


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def footer_cache(client: AsyncTestClient) -> Held[Any]:
    return company_held(client.app)


async def test_a_saved_company_change_reaches_the_portal_footer_once_the_cache_time_is_up(
    staff_as: StaffFactory, client_as: ClientFactory
) -> None:
    client, _id = await client_as("reader@example.test")
    clock = FakeClock()
    cache = footer_cache(client)
    cache.clock = clock
    cache.forget()
    assert "BrokerDesk Demo Ltd" in page_text((await client.get("/")).text)

    admin = await staff_as("admin@staff.test", ["admin"])
    form = {"legal_name": "Harbour Markets Ltd", "support_email": "help@harbour.example", "version": "0"}
    assert (await submit(admin, "/settings/company", "/settings/company", form)).status_code == 303

    clock.now += COMPANY_TTL_SECONDS - 0.5
    held = page_text((await client.get("/")).text)
    assert "BrokerDesk Demo Ltd" in held  # still within the few seconds this process keeps them
    assert "Harbour Markets Ltd" not in held

    clock.now += 0.5
    fresh = page_text((await client.get("/")).text)
    assert "Harbour Markets Ltd" in fresh
    assert "help@harbour.example" in fresh
    assert "BrokerDesk Demo Ltd" not in fresh

    form = {"legal_name": "Quay Capital Ltd", "version": "1"}
    assert (await submit(admin, "/settings/company", "/settings/company", form)).status_code == 303
    cache.forget()  # dropping what the process holds reads the details afresh at once
    assert "Quay Capital Ltd" in page_text((await client.get("/")).text)
