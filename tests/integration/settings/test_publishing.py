"""Publishing and taking back, the same for help articles and announcements: each step redirects
to the item's page with its own flash message (in English and in Chinese), writes its own audit
event, and a missing item, a missing CSRF token or a staff member without the permission changes
nothing. Both screens share one helper (:mod:`backoffice.publishing`); this pins what each shows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from litestar.testing import AsyncTestClient

from core.db import Database
from tests.helpers import csrf_from, submit
from tests.integration.knowledge.helpers import add_category, category_id, write_article
from tests.integration.settings.conftest import StaffFactory, audit_events, page_text

pytestmark = pytest.mark.asyncio
ZH = {"Accept-Language": "zh-CN"}


async def new_article(staff: AsyncTestClient) -> str:
    await add_category(staff, "funding", "Funding")
    article_id = await write_article(staff, await category_id(staff, "funding"), publish=False)
    return f"/knowledge/articles/{article_id}"


async def new_announcement(staff: AsyncTestClient) -> str:
    form = {"title_en": "Spreads", "body_en": "Tighter on majors.", "audience": "all"}
    made = await submit(staff, "/settings/announcements/new", "/settings/announcements", form)
    assert made.status_code == 303, page_text(made.text)
    return str(made.headers["location"])


@dataclass(frozen=True)
class Screen:
    create: Callable[[AsyncTestClient], Awaitable[str]]
    missing: str
    audit: str
    published: tuple[str, str]
    draft: tuple[str, str]


SCREENS = {
    "article": Screen(
        new_article,
        "/knowledge/articles/999999",
        "knowledge.article",
        ("The article is published.", "文章已发布。"),
        ("The article is back to draft.", "文章已撤回为草稿。"),
    ),
    "announcement": Screen(
        new_announcement,
        "/settings/announcements/999999",
        "comms.announcement",
        ("The announcement is published.", "公告已发布。"),
        ("The announcement is back to draft.", "公告已撤回为草稿。"),
    ),
}


async def opened(kind: str, staff_as: StaffFactory) -> tuple[Screen, AsyncTestClient, str]:
    """The screen, a support member signed in, and the page of a new draft item."""
    screen = SCREENS[kind]
    support = await staff_as(f"{kind}@staff.test", ["support"])
    return screen, support, await screen.create(support)


async def flashed(staff: AsyncTestClient, page: str, action: str, *, chinese: bool = False) -> str:
    """POST ``action`` from ``page``, check it redirects back to ``page``, and return the flash."""
    done = await submit(staff, page, action, {}, headers=ZH if chinese else {})
    assert done.status_code == 303, page_text(done.text)
    assert done.headers["location"] == page
    shown = page_text((await staff.get(page, headers=ZH if chinese else {})).text)
    return shown.split('<ul class="flashes" role="status">')[1].split("</ul>")[0]


@pytest.mark.parametrize("kind", sorted(SCREENS))
async def test_publish_and_take_back_flash_redirect_and_audit(
    kind: str, staff_as: StaffFactory, db: Database
) -> None:
    screen, support, page = await opened(kind, staff_as)

    assert screen.published[0] in await flashed(support, page, f"{page}/publish")
    assert screen.draft[0] in await flashed(support, page, f"{page}/unpublish")
    assert screen.published[1] in await flashed(support, page, f"{page}/publish", chinese=True)
    assert screen.draft[1] in await flashed(support, page, f"{page}/unpublish", chinese=True)

    published = await audit_events(db, f"{screen.audit}_published")
    unpublished = await audit_events(db, f"{screen.audit}_unpublished")
    assert len(published) == 2
    assert len(unpublished) == 2
    assert [e.after["status"] for e in published if e.after] == ["published", "published"]
    assert [e.after["status"] for e in unpublished if e.after] == ["draft", "draft"]


@pytest.mark.parametrize("kind", sorted(SCREENS))
async def test_missing_item_no_csrf_and_no_permission_change_nothing(
    kind: str, staff_as: StaffFactory, db: Database
) -> None:
    screen, support, page = await opened(kind, staff_as)

    for action in ("publish", "unpublish"):
        missing = await submit(support, page, f"{screen.missing}/{action}", {})
        assert missing.status_code == 404, action
    no_token = await support.post(f"{page}/publish", data={}, follow_redirects=False)
    assert no_token.status_code == 403
    finance = await staff_as(f"{kind}-finance@staff.test", ["finance"])
    token = csrf_from((await finance.get("/")).text)
    refused = await finance.post(f"{page}/publish", data={"_csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 403

    assert await audit_events(db, f"{screen.audit}_published") == []
    assert await audit_events(db, f"{screen.audit}_unpublished") == []
