# The Chinese texts here use Chinese punctuation and en dashes on purpose.
"""The demo's help centre: published articles in both languages (one in English only), once."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from cli.seed import SEEDERS
from cli.seed_knowledge import ARTICLES, seed_knowledge
from core.db import Database
from core.settings import Settings
from knowledge.models import Article
from tests.integration.knowledge.test_help_centre import ZH, shown
from tests.integration.settings.conftest import count

pytestmark = pytest.mark.asyncio


async def test_the_demo_seeds_readable_articles_once(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    assert seed_knowledge in SEEDERS
    first = await seed_knowledge(db, settings)
    assert await seed_knowledge(db, settings) == first
    assert await count(db, Article) == len(ARTICLES)
    index = await portal_client.get("/help")
    assert shown(index.text) == [slug for _category, slug, *_texts in ARTICLES]
    chinese = await portal_client.get("/help/articles/deposit-by-bank-wire", headers=ZH)
    assert "<h1>通过银行电汇入金</h1>" in chinese.text
    found = await portal_client.get("/help/search", params={"q": "出金"}, headers=ZH)
    assert shown(found.text) == ["withdrawal-time"]
    english_only = await portal_client.get("/help/articles/change-leverage", headers=ZH)
    assert "<h1>Changing your leverage</h1>" in english_only.text
