"""The campaign pages in English and Simplified Chinese: every message of their templates (and
their flash messages) is in a catalog, and the pages show Chinese to a Chinese reader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from litestar.testing import AsyncTestClient

from core.db import Database
from core.settings import Settings
from tests.integration.comms.helpers import add_clients, create_campaign, save_segment
from tests.integration.settings.conftest import ClientFactory, StaffFactory, page_text

ROOT = Path(__file__).resolve().parents[3]
ZH = {"Accept-Language": "zh-CN"}
MSGID = re.compile(r"""_\('((?:[^'\\]|\\.)*)'""")
FLASH = re.compile(r'"((?:The campaign |Sending has started|Marketing mail is|You will receive)[^"]*)"')


def catalog(*paths: str) -> set[str]:
    found: set[str] = set()
    for path in paths:
        with (ROOT / path).open("rb") as handle:
            found |= {str(message.id) for message in read_po(handle) if message.id and message.string}
    return found


@pytest.mark.parametrize(
    ("templates", "sources", "catalogs"),
    [
        (
            "backoffice/templates/campaigns",
            ["backoffice/campaigns.py"],
            ["backoffice/campaigns_locales/zh_Hans/LC_MESSAGES/messages.po"],
        ),
        (
            "portal/templates/campaigns",
            ["portal/security.py"],
            [
                "portal/campaigns_locales/zh_Hans/LC_MESSAGES/messages.po",
                "portal/locales/zh_Hans/LC_MESSAGES/messages.po",
            ],
        ),
    ],
)
def test_every_campaign_message_has_a_chinese_translation(
    templates: str, sources: list[str], catalogs: list[str]
) -> None:
    known = catalog(*catalogs, "core/i18n/locales/zh_Hans/LC_MESSAGES/messages.po")
    wanted = {m for path in (ROOT / templates).glob("*.html") for m in MSGID.findall(path.read_text("utf-8"))}
    for source in sources:
        text = (ROOT / source).read_text("utf-8")
        wanted |= set(FLASH.findall(text))
    assert wanted
    assert sorted(wanted - known) == []


async def test_the_pages_in_chinese(
    staff_as: StaffFactory, client_as: ClientFactory, db: Database, settings: Settings
) -> None:
    staff = await staff_as("marketing@staff.test", ["support"])
    await add_clients(db, settings, "zh@campaign.test")
    campaign_id = await create_campaign(staff, await save_segment(staff, "ZH", "campaign.test"))
    listed = page_text((await staff.get("/campaigns", headers=ZH)).text)
    assert "营销活动" in listed
    assert "December spreads" in listed
    shown = page_text((await staff.get(f"/campaigns/{campaign_id}", headers=ZH)).text)
    assert "立即发送" in shown
    assert "每分钟发送邮件数" in shown
    client, _ = await client_as("reader@client.test")
    account: AsyncTestClient = client
    assert "营销邮件" in page_text((await account.get("/account", headers=ZH)).text)
