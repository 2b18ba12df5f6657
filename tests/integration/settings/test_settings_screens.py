"""The settings screens over HTTP: each needs its own permission, a save changes the value and
writes an audit event with before and after that the screen's history shows, bad input is a 400
naming the field with nothing written, and what clients see follows the saved settings."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.company import load_company
from core.config_store import ConfigEntry
from core.db import Database
from core.mail.outbox import queue_mail
from tests.helpers import submit
from tests.integration.settings.conftest import ClientFactory, StaffFactory, audit_events, count, page_text

pytestmark = pytest.mark.asyncio

SCREENS = {
    "/settings/company": "settings.company",
    "/settings/bank": "settings.bank",
    "/settings/limits": "settings.limits",
    "/settings/fees": "settings.fees",
    "/settings/kyc": "settings.edit",
    "/settings/mail-templates": "mail.templates",
    "/settings/mail-templates/verify_email/zh_Hans": "mail.templates",
    "/settings/announcements": "announcements.manage",
    "/settings/announcements/new": "announcements.manage",
}


async def test_each_screen_needs_its_permission(staff_as: StaffFactory) -> None:
    admin = await staff_as("admin@staff.test", ["admin"])
    finance = await staff_as("finance@staff.test", ["finance"])
    support = await staff_as("support@staff.test", ["support"])
    compliance = await staff_as("compliance@staff.test", ["compliance"])

    index = await admin.get("/settings")
    assert index.status_code == 200
    for path in SCREENS:
        if path.count("/") == 2:
            assert f'href="{path}"' in index.text, path
        assert (await admin.get(path)).status_code == 200, path
        assert (await compliance.get(path)).status_code == 403, path
    assert (await compliance.get("/settings")).status_code == 403

    finance_index = await finance.get("/settings")
    assert finance_index.status_code == 200
    assert 'href="/settings/limits"' in finance_index.text
    assert 'href="/settings/company"' not in finance_index.text  # listed, not linked
    allowed = {"settings.bank", "settings.limits", "settings.fees"}
    for path, needed in SCREENS.items():
        assert (await finance.get(path)).status_code == (200 if needed in allowed else 403), path
    allowed = {"mail.templates", "announcements.manage"}
    for path, needed in SCREENS.items():
        assert (await support.get(path)).status_code == (200 if needed in allowed else 403), path


async def test_company_details_saved_audited_and_shown_to_clients(
    staff_as: StaffFactory, client_as: ClientFactory, db: Database
) -> None:
    admin = await staff_as("admin@staff.test", ["admin"])
    form = {
        "legal_name": "Harbour Markets Ltd",
        "registration_number": "HM-2041",
        "address": "7 Quay Road, Limassol",
        "support_email": "help@harbour.example",
        "support_phone": "+357 22 000 000",
        "website": "https://harbour.example",
        "version": "0",
    }
    bad = await submit(admin, "/settings/company", "/settings/company", {**form, "support_email": "not-mail"})
    assert bad.status_code == 400
    assert "Support email: this is not an email address." in page_text(bad.text)
    assert 'data-field="support_email"' in bad.text
    bad_site = await submit(admin, "/settings/company", "/settings/company", {**form, "website": "harbour"})
    assert bad_site.status_code == 400
    assert "Website:" in page_text(bad_site.text)
    assert await count(db, ConfigEntry) == 0
    assert await audit_events(db, "settings.company_changed") == []

    saved = await submit(admin, "/settings/company", "/settings/company", form)
    assert saved.status_code == 303
    async with db.session() as session:
        company = await load_company(session)
    assert (company.legal_name, company.support_email) == ("Harbour Markets Ltd", "help@harbour.example")
    (event,) = await audit_events(db, "settings.company_changed")
    assert event.actor_email == "admin@staff.test"
    assert event.target_type == "config"
    assert event.target_id == "company"
    assert event.before is not None
    assert event.before["legal_name"] == "BrokerDesk Demo Ltd"
    assert event.before["version"] == 0
    assert event.after is not None
    assert event.after["legal_name"] == "Harbour Markets Ltd"
    assert event.after["version"] == 1

    page = page_text((await admin.get("/settings/company")).text)
    assert 'class="change"' in page
    assert "admin@staff.test" in page
    assert "BrokerDesk Demo Ltd" in page
    assert "Harbour Markets Ltd" in page

    stale = await submit(admin, "/settings/company", "/settings/company", {**form, "legal_name": "Other"})
    assert stale.status_code == 409  # the form still says version 0
    async with db.session() as session:
        assert (await load_company(session)).legal_name == "Harbour Markets Ltd"

    client, _id = await client_as("reader@example.test")
    footer = page_text((await client.get("/")).text)
    assert "Harbour Markets Ltd" in footer
    assert "help@harbour.example" in footer
    assert "HM-2041" in footer

    async with db.transaction() as session:
        mail = await queue_mail(
            session, "reader@example.test", "verify_email", "en", {"link": "http://x/", "hours": 2}
        )
    assert "Harbour Markets Ltd" in mail.html_body
    assert "7 Quay Road, Limassol" in mail.html_body


async def test_bank_details_per_currency_reach_the_deposit_page(
    staff_as: StaffFactory, client_as: ClientFactory, db: Database
) -> None:
    finance = await staff_as("finance@staff.test", ["finance"])
    page = await finance.get("/settings/bank")
    assert page.status_code == 200
    assert 'value="GB82WEST12345698765432"' in page.text  # the environment's defaults until saved
    form = {
        "version": "0",
        "USD_beneficiary": "Harbour Markets client money",
        "USD_bank_name": "Commerzbank",
        "USD_iban": "DE89 3704 0044 0532 0130 00",
        "USD_account_number": "",
        "USD_bic": "COBADEFFXXX",
        "USD_reference_format": "HM-{client_id}",
        "EUR_beneficiary": "Harbour Markets client money",
        "EUR_bank_name": "Demo Bank plc",
        "EUR_iban": "GB82WEST12345698765432",
        "EUR_account_number": "",
        "EUR_bic": "WESTGB2L",
        "EUR_reference_format": "",
    }
    cases = [
        ({"USD_iban": "DE89 3704 0044 0532 0130 01"}, "USD IBAN: this IBAN is not valid.", "USD_iban"),
        ({"USD_bic": "XX"}, "USD SWIFT/BIC", "USD_bic"),
        (
            {"USD_reference_format": "HM-{client}"},
            "must contain {client_id} exactly once",
            "USD_reference_format",
        ),
        ({"EUR_beneficiary": ""}, "EUR beneficiary: required.", "EUR_beneficiary"),
    ]
    for change, message, field in cases:
        refused = await submit(finance, "/settings/bank", "/settings/bank", {**form, **change})
        assert refused.status_code == 400, change
        assert message in page_text(refused.text), change
        assert f'data-field="{field}"' in refused.text
    assert await count(db, ConfigEntry) == 0

    saved = await submit(finance, "/settings/bank", "/settings/bank", form)
    assert saved.status_code == 303
    (event,) = await audit_events(db, "settings.bank_changed")
    assert event.before is not None
    assert event.before["USD"]["iban"] == "GB82WEST12345698765432"
    assert event.after is not None
    assert event.after["USD"]["iban"] == "DE89370400440532013000"
    history = page_text((await finance.get("/settings/bank")).text)
    assert "USD.iban" in history
    assert "DE89370400440532013000" in history

    client, client_id = await client_as("wire@example.test")
    deposit = page_text((await client.get("/funding/deposit")).text)
    usd = deposit.split('data-currency="USD"')[1].split("</dl>")[0]
    assert "Commerzbank" in usd
    assert "DE89370400440532013000" in usd
    assert "COBADEFFXXX" in usd
    assert f"HM-{client_id}" in usd
    eur = deposit.split('data-currency="EUR"')[1].split("</dl>")[0]
    assert "GB82WEST12345698765432" in eur
    assert f"C{client_id}" in eur


async def test_fees_are_validated_stored_and_shown(
    staff_as: StaffFactory, client_as: ClientFactory, db: Database
) -> None:
    finance = await staff_as("finance@staff.test", ["finance"])
    methods = ("deposit_psp", "deposit_wire", "withdrawal_bank", "withdrawal_psp")
    form = {"version": "0"}
    for currency in ("USD", "EUR"):
        for method in methods:
            form[f"{currency}_{method}_fixed"] = "0"
            form[f"{currency}_{method}_bps"] = "0"
    form["USD_withdrawal_bank_fixed"] = "2.50"
    form["USD_withdrawal_bank_bps"] = "25"
    form["USD_deposit_wire_fixed"] = "1.00"
    form["USD_deposit_wire_bps"] = "150"
    refused = await submit(
        finance, "/settings/fees", "/settings/fees", {**form, "EUR_deposit_psp_bps": "10001"}
    )
    assert refused.status_code == 400
    assert "EUR card or online deposit, percentage fee" in page_text(refused.text)
    negative = await submit(
        finance, "/settings/fees", "/settings/fees", {**form, "USD_deposit_wire_fixed": "-1"}
    )
    assert negative.status_code == 400
    assert "USD bank-wire deposit, fixed fee: cannot be negative." in page_text(negative.text)
    assert await count(db, ConfigEntry) == 0
    saved = await submit(finance, "/settings/fees", "/settings/fees", form)
    assert saved.status_code == 303
    (event,) = await audit_events(db, "settings.fees_changed")
    assert event.before is not None
    assert event.before["USD"]["withdrawal_bank"] == {"fixed": 0, "bps": 0}
    assert event.after is not None
    assert event.after["USD"]["withdrawal_bank"] == {"fixed": 250, "bps": 25}
    page = page_text((await finance.get("/settings/fees")).text)
    assert 'name="USD_withdrawal_bank_fixed" aria-label="USD withdrawal to a bank account fixed"' in page
    # 2.50 + 0.25 % of 1,000.00 = 5.00
    row = page.split('data-method="withdrawal_bank"')[1].split("</tr>")[0]
    assert "5.00 USD" in row
    async with db.session() as session:
        stored = await session.scalar(select(ConfigEntry).where(ConfigEntry.key == "cashier.fees"))
    assert stored is not None
    assert stored.version == 1
    client, _id = await client_as("fees@example.test")
    deposit = page_text((await client.get("/funding/deposit")).text)
    wire = deposit.split('data-method="deposit_wire"')[1].split("</ul>")[0]
    assert "Fee in USD: 1.00 USD plus 150 basis points" in wire
    assert 'data-method="deposit_psp"' not in deposit  # no card fee set
    withdraw = page_text((await client.get("/funding/withdraw")).text)
    bank = withdraw.split('data-method="withdrawal_bank"')[1].split("</ul>")[0]
    assert "Fee in USD: 2.50 USD plus 25 basis points of the amount, reserved with the withdrawal" in bank


async def test_screens_in_chinese(staff_as: StaffFactory, client_as: ClientFactory) -> None:
    admin = await staff_as("admin@staff.test", ["admin"])
    zh = {"Accept-Language": "zh-CN"}
    expected = {
        "/settings": "公司信息",
        "/settings/company": "保存公司信息",
        "/settings/bank": "保存银行信息",
        "/settings/limits": "每日出金上限",
        "/settings/fees": "100 基点等于 1 个百分点",
        "/settings/kyc": "尚无变更",
        "/settings/mail-templates": "邮件模板",
        "/settings/mail-templates/verify_email/zh_Hans": "请确认您的电子邮箱地址",
        "/settings/announcements/new": "简体中文",
    }
    for path, text in expected.items():
        page = await admin.get(path, headers=zh)
        assert page.status_code == 200, path
        assert text in page_text(page.text), path
    client, _id = await client_as("zh@example.test")
    deposit = page_text((await client.get("/funding/deposit", headers=zh)).text)
    assert "以 USD 电汇" in deposit
    assert "目前没有给您的公告。" in page_text((await client.get("/announcements", headers=zh)).text)
