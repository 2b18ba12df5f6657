"""Announcements over HTTP: staff write and publish them; each client sees only those in their
audience (all, by country, by account type, IBs), inside the window, in their language with
English as the fallback; a client marks one read once and staff see the count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from comms.models import Announcement, AnnouncementRead
from core.db import Database
from ib.models import Partner
from mt_bridge.models import (
    TradingAccount,
    TradingAccountStatus,
)
from tests.helpers import submit
from tests.integration.settings.conftest import ClientFactory, StaffFactory, audit_events, count, page_text
from tests.products import add_product
from tests.profiles import profile_row

pytestmark = pytest.mark.asyncio
ZH = {"Accept-Language": "zh-CN"}


def moment(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M")


async def set_country(db: Database, client_id: int, country: str) -> None:
    async with db.transaction() as session:
        session.add(profile_row(client_id, country))


async def account_type_with_holder(db: Database, client_id: int) -> int:
    async with db.transaction() as session:
        product = await add_product(
            session, server_name="Live", group_name="real\\pro", codes=(("pro", "Pro"), ("std", "Standard"))
        )
        server, group = product.server, product.group
        pro = product.account_types[0]  # "std" is the other type, held by nobody
        session.add(
            TradingAccount(
                client_id=client_id,
                server_id=server.id,
                account_type_id=pro.id,
                login=500_001,
                group_name=group.name,
                currency="USD",
                leverage=100,
                status=TradingAccountStatus.ACTIVE,
            )
        )
        return pro.id


async def create(staff: AsyncTestClient, **fields: str) -> int:
    form = {
        "title_en": "Maintenance tonight",
        "body_en": "The platform restarts at 22:00 UTC.",
        "title_zh_hans": "",
        "body_zh_hans": "",
        "audience": "all",
        "countries": "",
        "starts_at": moment(-timedelta(hours=1)),
        "ends_at": "",
        **fields,
    }
    made = await submit(staff, "/settings/announcements/new", "/settings/announcements", form)
    assert made.status_code == 303, page_text(made.text)
    announcement_id = int(made.headers["location"].rsplit("/", 1)[1])
    published = await submit(
        staff,
        f"/settings/announcements/{announcement_id}",
        f"/settings/announcements/{announcement_id}/publish",
        {},
    )
    assert published.status_code == 303
    return announcement_id


def shown_ids(html: str) -> set[int]:
    import re

    return {
        int(found) for found in re.findall(r'class="card announcement[^"]*" data-announcement="(\d+)"', html)
    }


async def test_staff_input_is_checked_and_audited(staff_as: StaffFactory, db: Database) -> None:
    support = await staff_as("support@staff.test", ["support"])
    finance = await staff_as("finance@staff.test", ["finance"])
    assert (await finance.get("/settings/announcements")).status_code == 403
    base = {"title_en": "Hi", "body_en": "Text", "audience": "all"}
    cases = [
        ({"title_en": ""}, "English title: required."),
        ({"audience": "everyone"}, "Audience: choose one of the listed audiences."),
        ({"audience": "countries", "countries": "GB, QQ"}, "Countries: unknown codes QQ."),
        ({"audience": "account_types"}, "Account types: choose at least one account type."),
        ({"title_zh_hans": "你好"}, "Chinese title and text: give both or neither."),
        (
            {"starts_at": "2026-12-02T10:00", "ends_at": "2026-12-02T09:00"},
            "Ends at: must be after the start.",
        ),
        ({"starts_at": "tomorrow"}, "Starts at: use the form"),
    ]
    for change, message in cases:
        refused = await submit(
            support, "/settings/announcements/new", "/settings/announcements", {**base, **change}
        )
        assert refused.status_code == 400, change
        assert message in page_text(refused.text), change
    assert await count(db, Announcement) == 0

    announcement_id = await create(support)
    changed = await submit(
        support,
        f"/settings/announcements/{announcement_id}",
        f"/settings/announcements/{announcement_id}",
        {**base, "title_en": "Maintenance moved", "starts_at": moment(-timedelta(hours=2))},
    )
    assert changed.status_code == 303
    (created,) = await audit_events(db, "comms.announcement_created")
    assert created.after is not None
    assert created.after["status"] == "draft"
    (published,) = await audit_events(db, "comms.announcement_published")
    assert published.before is not None
    assert published.before["status"] == "draft"
    assert published.after is not None
    assert published.after["status"] == "published"
    (edited,) = await audit_events(db, "comms.announcement_changed")
    assert edited.before is not None
    assert edited.before["title_en"] == "Maintenance tonight"
    assert edited.after is not None
    assert edited.after["title_en"] == "Maintenance moved"
    page = page_text((await support.get(f"/settings/announcements/{announcement_id}")).text)
    assert "Maintenance tonight" in page.split('id="history"')[1]
    assert (await support.get("/settings/announcements/999")).status_code == 404


async def test_audience_window_language_and_reads(
    staff_as: StaffFactory, client_as: ClientFactory, db: Database
) -> None:
    support = await staff_as("support@staff.test", ["support"])
    briton, briton_id = await client_as("gb@example.test")
    german, german_id = await client_as("de@example.test")
    await set_country(db, briton_id, "GB")
    await set_country(db, german_id, "DE")
    pro_type = await account_type_with_holder(db, german_id)
    async with db.transaction() as session:
        session.add(Partner(client_id=briton_id, status="active", since=datetime.now(UTC)))

    everyone = await create(
        support, title_en="Holiday hours", title_zh_hans="假期时间", body_zh_hans="圣诞节交易时间调整。"
    )
    for_gb = await create(support, title_en="UK clients only", audience="countries", countries="gb, ie")
    for_pro = await create(
        support, title_en="Pro accounts", audience="account_types", account_types=str(pro_type)
    )
    for_ibs = await create(support, title_en="Partners' news", audience="ibs")
    await create(support, title_en="Not yet", starts_at=moment(timedelta(days=1)))
    await create(
        support, title_en="Over", starts_at=moment(-timedelta(days=3)), ends_at=moment(-timedelta(days=1))
    )
    draft = await submit(
        support,
        "/settings/announcements/new",
        "/settings/announcements",
        {"title_en": "Draft", "body_en": "x", "audience": "all", "starts_at": moment(-timedelta(hours=1))},
    )
    draft_id = int(draft.headers["location"].rsplit("/", 1)[1])

    briton_page = (await briton.get("/announcements")).text
    assert shown_ids(briton_page) == {everyone, for_gb, for_ibs}
    german_page = (await german.get("/announcements", headers=ZH)).text
    assert shown_ids(german_page) == {everyone, for_pro}
    german_text = page_text(german_page)
    assert "假期时间" in german_text  # Chinese where the announcement has it
    assert "Holiday hours" not in german_text
    assert "Pro accounts" in german_text  # English fallback
    assert "Holiday hours" in page_text(briton_page)

    home = page_text((await briton.get("/")).text)
    assert "UK clients only" in home
    assert "Partners' news" in home

    read = await submit(briton, "/announcements", f"/announcements/{for_gb}/read", {"next": "/"})
    assert read.status_code == 303
    assert read.headers["location"] == "/"
    again = await submit(briton, "/announcements", f"/announcements/{for_gb}/read", {})
    assert again.status_code == 303
    async with db.session() as session:
        reads = list(await session.scalars(select(AnnouncementRead)))
    assert [(r.announcement_id, r.client_id) for r in reads] == [(for_gb, briton_id)]
    assert "UK clients only" not in page_text((await briton.get("/")).text)  # off the banner once read
    listed = page_text((await briton.get("/announcements")).text)
    assert f'class="card announcement" data-announcement="{for_gb}"' in listed  # still listed, as read

    for hidden in (for_gb, draft_id, 999_999):
        refused = await submit(german, "/announcements", f"/announcements/{hidden}/read", {})
        assert refused.status_code == 404, hidden
    assert await count(db, AnnouncementRead) == 1

    staff_list = page_text((await support.get("/settings/announcements")).text)
    row = staff_list.split(f'data-announcement="{for_gb}"')[1].split("</tr>")[0]
    assert '<td class="reads">1</td>' in row
    detail = page_text((await support.get(f"/settings/announcements/{for_gb}")).text)
    assert "Read by 1 clients." in detail

    unpublished = await submit(
        support, f"/settings/announcements/{everyone}", f"/settings/announcements/{everyone}/unpublish", {}
    )
    assert unpublished.status_code == 303
    assert everyone not in shown_ids((await briton.get("/announcements")).text)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def banner_ids(html: str) -> set[int]:
    import re

    return {int(found) for found in re.findall(r'<li data-announcement="(\d+)"', html)}


async def test_the_home_banner_shows_a_change_within_its_few_seconds_and_keeps_windows_exact(
    staff_as: StaffFactory, client_as: ClientFactory
) -> None:
    from core import clock
    from portal.announcements import BANNER_TTL_SECONDS, banner_rows

    support = await staff_as("support@staff.test", ["support"])
    reader, _id = await client_as("banner@example.test")
    held = banner_rows(reader.app)
    ticks = FakeClock()
    held.clock = ticks
    held.forget()
    assert banner_ids((await reader.get("/")).text) == set()  # nothing published: kept empty

    first = await create(support, title_en="Published just now")
    later = await create(support, title_en="Starts soon", starts_at=moment(timedelta(minutes=3)))
    assert banner_ids((await reader.get("/")).text) == set()  # within the banner's few seconds
    assert shown_ids((await reader.get("/announcements")).text) == {first}  # the page reads afresh

    ticks.now += BANNER_TTL_SECONDS
    assert banner_ids((await reader.get("/")).text) == {first}
    with clock.set_to(clock.utcnow() + timedelta(minutes=5)):  # the rows kept, once "soon" has come
        assert banner_ids((await reader.get("/")).text) == {first, later}

    unpublished = await submit(
        support, f"/settings/announcements/{first}", f"/settings/announcements/{first}/unpublish", {}
    )
    assert unpublished.status_code == 303
    held.forget()
    assert banner_ids((await reader.get("/")).text) == set()
