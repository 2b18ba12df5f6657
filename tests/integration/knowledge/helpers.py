# The Chinese texts here use Chinese punctuation and en dashes on purpose.
# ruff: noqa: RUF001
"""Writing help content through the back office, the way staff do."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.helpers import submit
from tests.integration.settings.conftest import page_text


async def add_category(staff: AsyncTestClient, slug: str, name_en: str, name_zh: str = "") -> None:
    made = await submit(
        staff,
        "/knowledge",
        "/knowledge/categories",
        {"slug": slug, "name_en": name_en, "name_zh_hans": name_zh, "position": ""},
    )
    assert made.status_code == 303, page_text(made.text)


async def category_id(staff: AsyncTestClient, slug: str) -> int:
    import re

    page = (await staff.get("/knowledge")).text
    found = re.search(rf'action="/knowledge/categories/(\d+)" data-category="{slug}"', page)
    assert found, f"no category {slug}"
    return int(found.group(1))


def article_form(category: int, **fields: str) -> dict[str, Any]:
    return {
        "category_id": str(category),
        "slug": "",
        "position": "",
        "title_en": "How do I deposit by bank wire?",
        "body_en": "Open **Funding**, choose *Bank wire* and upload your proof.",
        "title_zh_hans": "如何通过银行电汇入金？",
        "body_zh_hans": "打开**资金**页面，选择*银行电汇*并上传付款凭证。",
        **fields,
    }


async def write_article(staff: AsyncTestClient, category: int, *, publish: bool = True, **fields: str) -> int:
    made = await submit(
        staff, "/knowledge/articles/new", "/knowledge/articles", article_form(category, **fields)
    )
    assert made.status_code == 303, page_text(made.text)
    article_id = int(made.headers["location"].rsplit("/", 1)[1])
    if publish:
        done = await submit(
            staff, f"/knowledge/articles/{article_id}", f"/knowledge/articles/{article_id}/publish", {}
        )
        assert done.status_code == 303
    return article_id
