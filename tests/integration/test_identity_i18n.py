"""Identity pages and messages speak Chinese when the visitor does."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from core.db import Database
from core.settings import Settings
from tests.helpers import make_client, submit

pytestmark = pytest.mark.asyncio

ZH = {"accept-language": "zh-CN,zh;q=0.9"}


async def test_sign_in_page_and_errors_in_chinese(
    portal_client: AsyncTestClient, db: Database, settings: Settings
) -> None:
    await make_client(db, settings, "wang@example.test")
    page = await portal_client.get("/login", headers=ZH)
    assert "登录" in page.text
    assert "忘记密码" in page.text
    wrong = await submit(
        portal_client, "/login", "/login", {"email": "wang@example.test", "password": "x" * 12}, headers=ZH
    )
    assert wrong.status_code == 400
    assert "电子邮箱或密码错误。" in wrong.text
    weak = await submit(
        portal_client, "/register", "/register", {"email": "li@example.test", "password": "short"}, headers=ZH
    )
    assert "请至少使用 10 个字符。" in weak.text


async def test_staff_pages_in_chinese(backoffice_client: AsyncTestClient) -> None:
    page = await backoffice_client.get("/login", headers=ZH)
    assert "登录" in page.text
    assert "审计日志" in page.text  # navigation
