# The Chinese texts here use Chinese punctuation and en dashes on purpose.
# ruff: noqa: RUF001
"""The knowledge base over HTTP: staff write categories and articles in English and Chinese with
a preview, publish and take them back (audited); the portal shows published articles by
category, in the reader's language with English as the fallback, finds them by search (Chinese
too) and suggests them to the ticket form; drafts and bad input change nothing."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from core.db import Database
from knowledge.models import Article, ArticleTranslation, Category
from tests.helpers import submit
from tests.integration.knowledge.helpers import add_category, article_form, category_id, write_article
from tests.integration.settings.conftest import ClientFactory, StaffFactory, audit_events, count, page_text

pytestmark = pytest.mark.asyncio
ZH = {"Accept-Language": "zh-CN"}
HX = {"HX-Request": "true"}


def shown(html: str) -> list[str]:
    return re.findall(r'class="help-link" data-article="([^"]+)"', html)


async def test_staff_write_preview_and_publish_and_clients_read_in_their_language(
    staff_as: StaffFactory, portal_client: AsyncTestClient, db: Database
) -> None:
    support = await staff_as("support@staff.test", ["support"])
    await add_category(support, "funding", "Funding", "资金")
    await add_category(support, "accounts", "Trading accounts")
    funding = await category_id(support, "funding")
    accounts = await category_id(support, "accounts")

    # a preview renders the Markdown, escapes raw HTML and saves nothing
    preview_form = article_form(funding, body_en="Hello **world** <script>alert(1)</script>")
    preview = await submit(support, "/knowledge/articles/new", "/knowledge/preview", preview_form)
    assert preview.status_code == 200
    assert "Hello <strong>world</strong> &lt;script&gt;alert(1)&lt;/script&gt;" in preview.text
    assert 'value="How do I deposit by bank wire?"' in preview.text  # the typed values are kept
    fragment = await submit(
        support, "/knowledge/articles/new", "/knowledge/preview", preview_form, headers=HX
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section class="card article-preview"')
    assert "<strong>资金</strong>" in fragment.text
    assert fragment.headers["vary"] == "HX-Request"
    assert await count(db, Article) == 0

    wire = await write_article(support, funding, publish=False)
    draft_page = await portal_client.get("/help/articles/how-do-i-deposit-by-bank-wire")
    assert draft_page.status_code == 404  # a draft is not shown
    assert "how-do-i-deposit-by-bank-wire" not in (await portal_client.get("/help")).text
    published = await submit(
        support, f"/knowledge/articles/{wire}", f"/knowledge/articles/{wire}/publish", {}
    )
    assert published.status_code == 303
    await write_article(
        support,
        accounts,
        slug="leverage",
        title_en="Changing your leverage",
        body_en="Ask for a new leverage on the account's page.\n\n- 1:100\n- 1:200",
        title_zh_hans="",
        body_zh_hans="",
    )

    english = await portal_client.get("/help")
    assert english.status_code == 200
    assert shown(english.text) == ["how-do-i-deposit-by-bank-wire", "leverage"]
    assert "Funding" in english.text
    article = await portal_client.get("/help/articles/how-do-i-deposit-by-bank-wire")
    assert article.status_code == 200
    assert "<h1>How do I deposit by bank wire?</h1>" in article.text
    assert "Open <strong>Funding</strong>, choose <em>Bank wire</em>" in article.text

    chinese = await portal_client.get("/help/articles/how-do-i-deposit-by-bank-wire", headers=ZH)
    assert "<h1>如何通过银行电汇入金？</h1>" in chinese.text
    assert "<strong>资金</strong>" in chinese.text
    chinese_index = (await portal_client.get("/help", headers=ZH)).text
    assert "资金" in chinese_index  # the category's own name
    assert "<h1>帮助中心</h1>" in chinese_index  # and the page's own words, from the catalog
    fallback = await portal_client.get("/help/articles/leverage", headers=ZH)
    assert "<h1>Changing your leverage</h1>" in fallback.text
    assert "<ul><li>1:100</li><li>1:200</li></ul>" in fallback.text
    assert 'class="notice"' in fallback.text  # says it is shown in English

    # editing a published article is live; every step is audited with before and after
    changed = await submit(
        support,
        f"/knowledge/articles/{wire}",
        f"/knowledge/articles/{wire}",
        article_form(funding, slug="bank-wire", title_en="Depositing by bank wire"),
    )
    assert changed.status_code == 303
    assert (await portal_client.get("/help/articles/how-do-i-deposit-by-bank-wire")).status_code == 404
    assert "Depositing by bank wire" in (await portal_client.get("/help/articles/bank-wire")).text
    (created, _other) = await audit_events(db, "knowledge.article_created")
    assert created.after is not None
    assert created.after["status"] == "draft"
    assert created.after["title_zh_hans"] == "如何通过银行电汇入金？"
    (edited,) = await audit_events(db, "knowledge.article_changed")
    assert edited.before is not None
    assert edited.after is not None
    assert (edited.before["slug"], edited.after["slug"]) == ("how-do-i-deposit-by-bank-wire", "bank-wire")
    assert len(await audit_events(db, "knowledge.article_published")) == 2
    assert len(await audit_events(db, "knowledge.category_created")) == 2
    history = page_text((await support.get(f"/knowledge/articles/{wire}")).text).split('id="history"')[1]
    assert "knowledge.article_changed" in history

    taken_back = await submit(
        support, f"/knowledge/articles/{wire}", f"/knowledge/articles/{wire}/unpublish", {}
    )
    assert taken_back.status_code == 303
    assert (await portal_client.get("/help/articles/bank-wire")).status_code == 404
    (unpublished,) = await audit_events(db, "knowledge.article_unpublished")
    assert unpublished.after is not None
    assert unpublished.after["status"] == "draft"


async def test_search_and_suggestions_find_english_and_chinese(
    staff_as: StaffFactory, portal_client: AsyncTestClient
) -> None:
    support = await staff_as("support@staff.test", ["support"])
    await add_category(support, "funding", "Funding", "资金")
    funding = await category_id(support, "funding")
    await write_article(support, funding, slug="wire")
    await write_article(
        support,
        funding,
        slug="withdraw",
        title_en="How long does a withdrawal take?",
        body_en="Withdrawals are paid within two business days.",
        title_zh_hans="提款需要多长时间？",
        body_zh_hans="出金在两个工作日内支付到您的银行账户。",
    )
    await write_article(
        support, funding, slug="hidden-draft", publish=False, title_en="Withdrawal secrets", body_en="draft"
    )

    found = await portal_client.get("/help/search", params={"q": "withdrawal"})
    assert found.status_code == 200
    assert shown(found.text) == ["withdraw"]  # never the draft
    assert shown((await portal_client.get("/help/search", params={"q": "WIRE proof"})).text) == ["wire"]
    # Chinese has no spaces: whole words and phrases are matched in two-character pieces
    assert shown((await portal_client.get("/help/search", params={"q": "提款"}, headers=ZH)).text) == [
        "withdraw"
    ]
    assert shown((await portal_client.get("/help/search", params={"q": "银行电汇入金"})).text) == ["wire"]
    # an English word finds the article for a Chinese reader, shown in Chinese
    for_chinese = await portal_client.get("/help/search", params={"q": "withdrawal"}, headers=ZH)
    assert "提款需要多长时间？" in for_chinese.text
    # LIKE's wildcards are text, not patterns
    assert shown((await portal_client.get("/help/search", params={"q": "%%"})).text) == []

    nothing = await portal_client.get("/help/search", params={"q": "cryptocurrency staking"})
    assert nothing.status_code == 200
    assert "No article matches “cryptocurrency staking”" in page_text(nothing.text)
    empty = await portal_client.get("/help/search", params={"q": "   "})
    assert empty.status_code == 200
    assert "Type a word or two" in empty.text
    too_long = await portal_client.get("/help/search", params={"q": "deposit " * 40})
    assert too_long.status_code == 400
    assert "Search: at most 200 characters." in too_long.text
    markup = await portal_client.get("/help/search", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in markup.text
    assert "&lt;script&gt;" in markup.text

    # the ticket form's suggestions: a fragment for htmx, a page without JavaScript
    fragment = await portal_client.get(
        "/help/suggest", params={"q": "My withdrawal has not arrived"}, headers=HX
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div class="help-suggestions"')
    assert shown(fragment.text) == ["withdraw"]
    assert fragment.headers["vary"] == "HX-Request"
    page = await portal_client.get("/help/suggest", params={"q": "提款 多长时间"}, headers=ZH)
    assert page.status_code == 200
    assert "<html" in page.text
    assert shown(page.text) == ["withdraw"]
    assert "提款需要多长时间？" in page.text
    by_subject = await portal_client.get(
        "/help/suggest", params={"subject": "Where is my withdrawal?"}, headers=HX
    )
    assert shown(by_subject.text) == ["withdraw"]  # the ticket form's own field name works too
    quiet = await portal_client.get("/help/suggest", params={"q": ""}, headers=HX)
    assert quiet.status_code == 200
    assert shown(quiet.text) == []
    long_ticket = await portal_client.get("/help/suggest", params={"q": "withdrawal " * 200}, headers=HX)
    assert long_ticket.status_code == 200  # a long ticket text is read up to the limit, not refused
    assert shown(long_ticket.text) == ["withdraw"]


async def test_a_signed_in_client_keeps_their_header_on_the_public_help_pages(
    client_as: ClientFactory, portal_client: AsyncTestClient
) -> None:
    client, _client_id = await client_as("reader@example.test")
    signed = await client.get("/help")
    assert signed.status_code == 200
    assert "reader@example.test" in signed.text
    assert 'action="/logout"' in signed.text
    visitor = await portal_client.get("/help")
    assert visitor.status_code == 200
    assert 'action="/logout"' not in visitor.text


async def test_bad_input_is_refused_with_a_message_and_changes_nothing(
    staff_as: StaffFactory, portal_client: AsyncTestClient, db: Database
) -> None:
    support = await staff_as("support@staff.test", ["support"])
    finance = await staff_as("finance@staff.test", ["finance"])
    assert (await finance.get("/knowledge")).status_code == 403
    for change, message in [
        ({"name_en": ""}, "English name: required."),
        ({"slug": "Deposits & more"}, "Web address: lowercase letters, digits and single hyphens"),
        ({"position": "-3"}, "Order: a whole number from 0 to 10000."),
    ]:
        form = {"slug": "funding", "name_en": "Funding", "name_zh_hans": "", "position": "", **change}
        refused = await submit(support, "/knowledge", "/knowledge/categories", form)
        assert refused.status_code == 400, change
        assert message in page_text(refused.text), change
    assert await count(db, Category) == 0
    await add_category(support, "funding", "Funding")
    twice = await submit(
        support, "/knowledge", "/knowledge/categories", {"slug": "funding", "name_en": "Again"}
    )
    assert twice.status_code == 400
    assert "Web address: another category already uses “funding”." in page_text(twice.text)
    funding = await category_id(support, "funding")

    cases = [
        ({"title_en": ""}, "English title: required."),
        ({"body_en": "  "}, "English text: required."),
        ({"body_zh_hans": ""}, "Chinese title and text: give both or neither."),
        ({"category_id": "999999"}, "Category: choose one of the listed categories."),
        ({"category_id": "first"}, "Category: choose one of the listed categories."),
        ({"slug": "../etc/passwd"}, "Web address: lowercase letters, digits and single hyphens"),
        ({"slug": "", "title_en": "如何入金"}, "Web address: required"),
        ({"body_en": "x" * 50_001}, "English text: at most 50000 characters."),
        ({"title_en": "t" * 201}, "English title: at most 200 characters."),
    ]
    for change, message in cases:
        refused = await submit(
            support, "/knowledge/articles/new", "/knowledge/articles", article_form(funding, **change)
        )
        assert refused.status_code == 400, change
        assert message in page_text(refused.text), change
    assert await count(db, Article) == 0
    assert await count(db, ArticleTranslation) == 0

    first = await write_article(support, funding, slug="wire")
    clash = await submit(
        support, "/knowledge/articles/new", "/knowledge/articles", article_form(funding, slug="wire")
    )
    assert clash.status_code == 400
    assert "Web address: another article already uses “wire”." in page_text(clash.text)
    bad_edit = await submit(
        support,
        f"/knowledge/articles/{first}",
        f"/knowledge/articles/{first}",
        article_form(funding, title_en=""),
    )
    assert bad_edit.status_code == 400
    assert "How do I deposit by bank wire?" in (await portal_client.get("/help/articles/wire")).text
    assert (await support.get("/knowledge/articles/999999")).status_code == 404
    missing = await submit(support, "/knowledge", "/knowledge/articles/999999/publish", {})
    assert missing.status_code == 404
    assert (await portal_client.get("/help/articles/no-such-article")).status_code == 404
    assert await count(db, Article) == 1


async def test_article_bodies_never_carry_markup_or_script_links(
    staff_as: StaffFactory, portal_client: AsyncTestClient
) -> None:
    support = await staff_as("support@staff.test", ["support"])
    await add_category(support, "safety", "Safety")
    safety = await category_id(support, "safety")
    body = (
        '<img src=x onerror="alert(1)"> [click](javascript:alert(1)) [site](//evil.test/) '
        '[ok](https://example.test/a?b=1&c="2") `<b>code</b>`'
    )
    await write_article(support, safety, slug="unsafe", body_en=body)
    page = (await portal_client.get("/help/articles/unsafe")).text
    content = page.split('<div class="article-body">')[1].split("</div>")[0]
    assert "<img" not in content
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in content
    assert "javascript:" not in content.split("[click]")[0]
    assert 'href="javascript' not in content
    assert 'href="//evil.test/' not in content
    assert (
        '<a href="https://example.test/a?b=1&amp;c=&quot;2&quot;" rel="noopener noreferrer nofollow">ok</a>'
        in content
    )
    assert "<code>&lt;b&gt;code&lt;/b&gt;</code>" in content


async def test_the_json_api_lists_finds_and_reads_published_articles(
    staff_as: StaffFactory, portal_client: AsyncTestClient
) -> None:
    support = await staff_as("support@staff.test", ["support"])
    await add_category(support, "funding", "Funding", "资金")
    funding = await category_id(support, "funding")
    await write_article(support, funding, slug="wire")
    await write_article(support, funding, slug="draft-one", publish=False, title_en="Draft wire")

    listed = await portal_client.get("/api/v1/help/articles")
    assert listed.status_code == 200
    assert [item["slug"] for item in listed.json()] == ["wire"]
    found = await portal_client.get("/api/v1/help/articles", params={"q": "电汇"}, headers=ZH)
    (hit,) = found.json()
    assert (hit["slug"], hit["title"], hit["category"], hit["language"]) == (
        "wire",
        "如何通过银行电汇入金？",
        "资金",
        "zh_Hans",
    )
    article = await portal_client.get("/api/v1/help/articles/wire")
    assert article.status_code == 200
    assert article.json()["html"].startswith("<p>Open <strong>Funding</strong>")
    missing = await portal_client.get("/api/v1/help/articles/draft-one")
    assert missing.status_code == 404
    assert missing.json() == {"status_code": 404, "detail": "No such article."}
    too_long = await portal_client.get("/api/v1/help/articles", params={"q": "x" * 201})
    assert too_long.status_code == 400
    assert too_long.json() == {"status_code": 400, "detail": "q: at most 200 characters."}
    schema = (await portal_client.get("/api/schema/openapi.json")).json()
    assert {"/api/v1/help/articles", "/api/v1/help/articles/{article_slug}"} <= set(schema["paths"])
