"""The whole journey in a headless browser, against the real servers on loopback.

A visitor follows the demo sub-IB's referral link, registers and confirms their email; fills the
KYC wizard and uploads documents; compliance approves them in the back office (password and TOTP);
the client opens a live MT5 account, pays a deposit on the PSP sandbox's hosted page and moves
money to the trading account; deals are made on the emulator through its Web API, the bridge syncs
them and the commission engine pays the IB network, whose sub-IB sees the lines in the IB portal;
the client asks for a withdrawal that two finance staff approve (four eyes) and that is paid out
through the PSP. Then every side's balance is checked: the wallet in the ledger and on the page,
the trading account on the emulator (Web API), in the ledger and on the page, each IB's commission
account against its lines, and the trial balance.

It runs once per ``make test``, on the PostgreSQL leg (the production database, with real parallel
connections from the apps, the worker and the scheduler); the SQLite leg skips it, as the demo
itself runs on SQLite. Screenshots of the key pages, in English and Chinese, go to
``tests/e2e/output/`` (ignored by git; ``BROKERDESK_E2E_OUTPUT`` moves them). Last, the client's and
the sub-IB's pages are opened on a 390 px phone screen: none may scroll sideways, and each one's
screenshot (``10-phone-*.390.png``) lands beside the others.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select

from cashier.money import format_amount
from cashier.wallets import client_wallets
from cli.seed_identity import DEMO_CLIENT_PASSWORD, DEMO_DOMAIN, DEMO_STAFF_PASSWORD
from cli.seed_kyc import tiny_pdf, tiny_png
from core.db import Database
from core.identity.models import CLIENT, STAFF, User
from core.mail.models import OutboxMail
from ib.models import CommissionLine, Partner
from kyc.config import load_questionnaire
from kyc.models import CaseStatus, KycCase, KycLevel
from ledger.chart import OwnerKind, Purpose
from ledger.models import Account
from ledger.reading import get_balance, trial_balance
from mt_bridge.models import TradingAccount
from mt_bridge.mt5.client import Mt5WebApiPlatform
from mt_bridge.mt5.settings import Mt5ServerSettings
from mt_bridge.platform import DealQuery
from tests.conftest import BACKEND
from tests.e2e.browser import (
    fits_a_phone,
    main_navigation,
    new_person,
    on_a_phone,
    phone_shot_name,
    reload_until,
    screenshots,
    sign_in,
)
from tests.e2e.conftest import Product
from tests.helpers import STRONG_PASSWORD, make_staff

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(
        BACKEND != "postgresql", reason="the browser journey runs once per `make test`, on the PostgreSQL leg"
    ),
]

VISITOR = "new.trader@e2e.brokerdesk.test"
REFERRAL_CODE = "DEMOSUB"
SUB_IB = f"ib-sub@{DEMO_DOMAIN}"
COMPLIANCE = f"compliance@{DEMO_DOMAIN}"
FINANCE = f"finance@{DEMO_DOMAIN}"
SECOND_FINANCE = "second.finance@e2e.brokerdesk.test"
DEPOSIT, TO_TRADING, WITHDRAWAL = 300_000, 150_000, 100_000
"""In US cents: $3,000 paid in, $1,500 moved to the trading account, $1,000 withdrawn (four eyes)."""
ROUND_TRIPS = (("EURUSD", Decimal("1.00")), ("EURUSD", Decimal("0.50")))
"""Deals made on the emulator: each is bought, then sold (an IN, then an OUT that closes it)."""
CLIENT_PHONE_PAGES = (
    "/funding/deposit",
    "/funding/withdraw",
    "/funding/transfer",
    "/kyc/documents",
    "/help/articles/deposit-by-bank-wire",
    "/help/search?q=withdrawal",
)
"""Pages checked on a phone beyond every page of the main navigation (which holds tickets once the
portal has them): the forms of money and KYC, and the help centre's article and search."""
IB_PHONE_PAGES = ("/ib", "/ib/commissions", "/ib/network", "/ib/clients", "/ib/statistics")


def usd(minor: int) -> str:
    return f"{format_amount(minor, 2)} USD"


async def test_the_whole_journey(product: Product, browser: Browser, output_dir: Path) -> None:
    started = datetime.now(UTC)
    db = product.db

    # -- a visitor registers through the sub-IB's referral link and confirms their email ----------
    visitor_context, client = await new_person(browser, product.portal)
    await client.goto(f"/r/{REFERRAL_CODE}")
    await expect(client).to_have_url(re.compile(rf"/register\?ref={REFERRAL_CODE}$"))
    await expect(client.locator("#referral_code")).to_have_value(REFERRAL_CODE)
    await shoot_translated(client, output_dir, "01-register")
    await expect(client.locator("#referral_code")).to_have_value(REFERRAL_CODE)  # the switch kept it
    await client.fill("#email", VISITOR)
    await client.fill("#password", STRONG_PASSWORD)
    await client.locator('form[action="/register"] button[type="submit"]').click()
    await expect(client.locator("main h1")).to_have_text("Check your inbox")

    await client.goto(await mailed_link(db, VISITOR))
    await client.locator('main form button[type="submit"]').click()
    await expect(client.locator("main h1")).to_have_text("Email address confirmed")
    await sign_in(client, VISITOR, STRONG_PASSWORD)
    client_id = await user_id(db, CLIENT, VISITOR)

    # -- the KYC wizard, the questionnaire and the documents ---------------------------------------
    await client.goto("/kyc/profile")
    await expect(client).to_have_url(re.compile(r"/kyc/profile/identity$"))
    await client.select_option("#f-nationality", "GB")
    await fill_and_next(
        client, {"first_name": "Ada", "last_name": "Example", "birth_date": "1990-04-01"}, submit=True
    )
    await expect(client).to_have_url(re.compile(r"/kyc/profile/address$"))
    await client.select_option("#f-country_of_residence", "GB")
    await fill_and_next(
        client,
        {
            "address_line": "1 Example Street",
            "city": "Exampleton",
            "postal_code": "EX1 1AA",
            "phone": "+442079460000",
        },
        submit=True,
    )
    await expect(client).to_have_url(re.compile(r"/kyc/profile/tax$"))
    await client.select_option("#f-tax_residence", "GB")
    await fill_and_next(client, {"tin": "E2E123456"}, submit=True)
    await expect(client).to_have_url(re.compile(r"/kyc/profile/finances$"))
    await client.select_option("#f-employment_status", "employed")
    await client.select_option("#f-source_of_funds", "salary")
    await client.locator("main form button.primary").click()
    await expect(client).to_have_url(re.compile(r"/kyc$"))
    await expect(client.locator(".flashes")).to_contain_text("Your profile has been saved.")

    await client.goto("/kyc/questionnaire")
    async with db.session() as session:
        questionnaire = await load_questionnaire(session)
    for question in questionnaire.questions:
        best = max(question.choices, key=lambda choice: choice.points)
        await client.check(f'input[name="{question.key}"][value="{best.value}"]')
    await client.locator("main form button.primary").click()
    await expect(client.locator(".flashes")).to_contain_text("Your answers have been saved.")
    await expect(client.locator(".kyc-level")).to_have_attribute("data-level", "basic")

    expiry = (datetime.now(UTC).date() + timedelta(days=3 * 365)).isoformat()
    for kind, filename, mime, data, expires in (
        ("passport", "passport.png", "image/png", tiny_png(b"e2e passport"), expiry),
        ("proof_of_address", "utility-bill.pdf", "application/pdf", tiny_pdf("E2E utility bill"), ""),
        ("selfie", "selfie.png", "image/png", tiny_png(b"e2e selfie"), ""),
    ):
        await client.goto("/kyc/documents")
        await client.select_option("#d-kind", kind)
        await client.select_option("#d-side", "single")
        if expires:
            await client.fill("#d-expires", expires)
        await client.set_input_files("#d-file", {"name": filename, "mimeType": mime, "buffer": data})
        await client.locator('form[action="/kyc/documents"] button.primary').click()
        await expect(client.locator(".flashes")).to_contain_text("The document has been uploaded.")
    await expect(client.locator("table.documents tbody tr")).to_have_count(3)
    await shoot_translated(client, output_dir, "02-kyc-documents")
    await client.goto("/kyc")
    await client.locator('form[action="/kyc/submit"] button').click()
    await expect(client.locator(".flashes")).to_contain_text("Compliance will review your documents.")
    await shoot_translated(client, output_dir, "03-kyc-submitted")

    # -- compliance approves the documents and the case (password, then TOTP) ----------------------
    _compliance_context, compliance = await new_person(browser, product.backoffice)
    await sign_in(compliance, COMPLIANCE, DEMO_STAFF_PASSWORD, await totp_secret(db, COMPLIANCE))
    await compliance.goto("/kyc")
    await expect(compliance.locator("table.kyc-queue")).to_contain_text(VISITOR)
    await compliance.goto(f"/kyc/{client_id}")
    documents = compliance.locator("article.document")
    await expect(documents).to_have_count(3)
    for article_id in [await documents.nth(n).get_attribute("id") for n in range(3)]:
        article = compliance.locator(f"#{article_id}")
        await article.locator('input[value="approve"] + button').click()
        await expect(compliance.locator(f"#{article_id} h3 small")).to_have_text("(Approved)")
    await shoot_translated(compliance, output_dir, "04-backoffice-kyc-case")
    await compliance.locator(
        f'form[action="/kyc/{client_id}/decide"] input[value="approve"] + button'
    ).click()
    await expect(compliance.locator(".case-status")).to_have_text("Approved")
    async with db.session() as session:
        case = await session.get_one(KycCase, client_id)
    assert (case.status, case.level) == (CaseStatus.APPROVED, KycLevel.FULL)
    await client.goto("/kyc")
    await expect(client.locator(".kyc-level")).to_have_attribute("data-level", "full")

    # -- the client opens a live MT5 account ------------------------------------------------------
    await client.goto("/trading")
    live = client.locator('form.account-type[data-type="standard"]')
    await live.locator("select").select_option("100")
    await live.locator("button.primary").click()
    await expect(client.locator("#credentials")).to_be_visible()
    login = int((await client.locator("#credentials .login").inner_text()).strip())
    await reload_until(
        client, "/trading", f'tr.trading-account[data-status="active"]:has(td.login:text-is("{login}"))'
    )
    account = await trading_account(db, login)
    assert not account.is_demo
    assert account.ledger_account_id is not None

    # -- a deposit on the PSP sandbox's hosted page ------------------------------------------------
    await client.goto("/funding/deposit")
    await client.select_option("#card-currency", "USD")
    await client.fill("#card-amount", "3000")
    await client.locator('form[action="/funding/deposit/card"] button').click()
    await expect(client).to_have_url(re.compile(rf"^{re.escape(product.settings.psp_sandbox_url)}/pay/"))
    await expect(client.locator("h1")).to_have_text("PSP sandbox: hosted payment page")
    await client.screenshot(path=output_dir / "05-psp-hosted-page.png", full_page=True)
    await client.get_by_role("button", name="Pay (approve)").click()
    await expect(client).to_have_url(re.compile(r"/funding/deposit/return$"))
    await reload_until(client, "/funding", 'tr.wallet[data-currency="USD"] td.balance', text=usd(DEPOSIT))

    # -- money moves from the wallet to the trading account ----------------------------------------
    await client.goto("/funding/transfer")
    await client.select_option("#tr-from", "wallet")
    await client.select_option("#tr-to", f"account:{account.id}")
    await client.fill("#tr-amount", "1500")
    await client.locator('form[action="/funding/transfer"] button').click()
    await expect(client.locator(".flashes")).to_contain_text("Your transfer is on its way")
    await reload_until(
        client,
        "/trading",
        f'tr.trading-account:has(td.login:text-is("{login}")) td.balance',
        text=usd(TO_TRADING),
    )

    # -- deals on the emulator; the bridge syncs them and the commission engine pays the network ---
    platform = web_api(product)
    try:
        for symbol, lots in ROUND_TRIPS:
            for side in (0, 1):  # buy opens, sell closes (the group nets one position per symbol)
                await platform.connection.call(
                    "/api/dealer/send_request",
                    {"login": login, "Symbol": symbol, "Type": side, "VolumeExt": int(lots * 100_000_000)},
                    changes_state=True,
                )
        deals = await platform.fetch_deals(
            DealQuery(
                since=started - timedelta(minutes=5),
                until=datetime.now(UTC) + timedelta(minutes=5),
                logins=[login],
            )
        )
        on_server = await platform.get_account(login)
    finally:
        await platform.close()
    trades = [deal for deal in deals if deal.is_trade]
    assert len(trades) == 2 * len(ROUND_TRIPS)
    traded_money = sum(deal.profit + deal.commission + deal.swap + deal.fee for deal in trades)
    assert on_server.balance == TO_TRADING + traded_money
    assert traded_money != 0  # spread and the group's commission: closing always costs something

    closed_lots = sum(lots for _symbol, lots in ROUND_TRIPS)
    ib_context, ib = await new_person(browser, product.portal)
    await sign_in(ib, SUB_IB, DEMO_CLIENT_PASSWORD)
    await reload_until(ib, "/ib/commissions", "tr.line-row", text="EURUSD")
    await wait_for_lines(ib, db, client_id, closings=len(ROUND_TRIPS))
    await shoot_translated(ib, output_dir, "06-ib-commissions")
    lines = await commission_lines(db, client_id)
    sub_ib = await partner_of(db, SUB_IB)
    # The sub-IB earns the scheme's fixed forex rate, 500 cents per closed lot, at level 1.
    fixed = [line for line in lines if line.beneficiary_id == sub_ib and line.rule_code == "fx-fixed"]
    assert sum(line.amount for line in fixed) == int(500 * closed_lots)
    assert {line.level for line in lines if line.beneficiary_id == sub_ib} == {1}
    mine = [line for line in lines if line.beneficiary_id == sub_ib]
    await expect(ib.locator("tr.line-row")).to_have_count(len(mine))
    await expect(ib.locator("#total")).to_contain_text(usd(sum(line.amount for line in mine)))

    # -- a withdrawal, approved by two finance staff, paid out through the PSP ---------------------
    await client.goto("/funding/withdraw")
    await client.select_option("#wd-currency", "USD")
    await client.fill("#wd-amount", "1000")
    await client.select_option("#wd-destination", "psp:sandbox")
    await client.locator('form[action="/funding/withdraw"] button').click()
    await expect(client.locator(".flashes")).to_contain_text(
        "Your withdrawal request is waiting for approval."
    )
    await expect(client.locator('tr.wallet[data-currency="USD"] td.available')).to_have_text(
        usd(DEPOSIT - TO_TRADING - WITHDRAWAL)
    )

    await make_staff(db, product.settings, SECOND_FINANCE, ["finance"])
    _first_context, first = await new_person(browser, product.backoffice)
    await sign_in(first, FINANCE, DEMO_STAFF_PASSWORD, await totp_secret(db, FINANCE))
    await first.goto("/finance/withdrawals")
    row = first.locator("tr.withdrawal-row").filter(has_text=usd(WITHDRAWAL))
    await expect(row).to_have_attribute("data-status", "pending_approval")
    withdrawal_id = int(await row.get_attribute("data-id") or 0)
    await row.locator(f'form[action="/finance/withdrawals/{withdrawal_id}/approve"] button').click()
    row = first.locator(f'tr.withdrawal-row[data-id="{withdrawal_id}"]')
    await expect(row).to_have_attribute("data-status", "awaiting_second_approval")
    await row.locator(f'form[action="/finance/withdrawals/{withdrawal_id}/approve"] button').click()
    await expect(first.locator(".flashes")).to_contain_text("A second approver must be someone else.")
    await expect(row).to_have_attribute("data-status", "awaiting_second_approval")
    await shoot_translated(first, output_dir, "07-backoffice-withdrawals")

    _second_context, second = await new_person(browser, product.backoffice)
    await sign_in(second, SECOND_FINANCE, STRONG_PASSWORD, await totp_secret(db, SECOND_FINANCE))
    await second.goto("/finance/withdrawals")
    row = second.locator(f'tr.withdrawal-row[data-id="{withdrawal_id}"]')
    await row.locator(f'form[action="/finance/withdrawals/{withdrawal_id}/approve"] button').click()
    await expect(row).to_have_attribute("data-status", "approved")
    await row.locator(f'form[action="/finance/withdrawals/{withdrawal_id}/pay"] button').click()
    await expect(row).to_have_attribute("data-status", "paid")

    # -- every side's balance ----------------------------------------------------------------------
    wallet_left = DEPOSIT - TO_TRADING - WITHDRAWAL
    await client.goto("/funding")
    await expect(client.locator('tr.wallet[data-currency="USD"] td.balance')).to_have_text(usd(wallet_left))
    await expect(client.locator('tr.wallet[data-currency="USD"] td.available')).to_have_text(usd(wallet_left))
    await shoot_translated(client, output_dir, "08-funding")
    [wallet] = [w for w in await client_wallets(db, client_id) if w.currency == "USD"]
    assert (wallet.balance.posted, wallet.balance.available, wallet.balance.pending_out) == (
        wallet_left,
        wallet_left,
        0,
    )

    platform = web_api(product)
    try:
        on_server = await platform.get_account(login)
    finally:
        await platform.close()
    assert on_server.balance == TO_TRADING + traded_money
    # The bridge posts every synced deal's money to the trading account's ledger account, so once
    # synced the ledger, the portal and the server agree to the cent.
    await reload_until(
        client,
        "/trading",
        f'tr.trading-account:has(td.login:text-is("{login}")) td.balance',
        text=usd(on_server.balance),
    )
    await expect_ledger_balance(db, account.ledger_account_id, on_server.balance)
    await shoot_translated(client, output_dir, "09-trading-accounts")

    lines = await commission_lines(db, client_id)
    assert {line.beneficiary_id for line in lines} >= {sub_ib}
    for partner_id in {line.beneficiary_id for line in lines}:
        earned = sum(line.amount for line in lines if line.beneficiary_id == partner_id)
        assert earned > 0
        assert await commission_account_balance(db, partner_id) == earned

    balance = await trial_balance(db, "USD")
    assert balance.net == 0, balance
    assert balance.pending_debits == balance.pending_credits == 0, balance

    # -- on a 390 px phone, with the journey's data in every table, no page scrolls sideways ------
    _phone_context, phone = await on_a_phone(browser, product.portal, visitor_context)
    await phone.goto("/")
    client_pages = [*await main_navigation(phone), *CLIENT_PHONE_PAGES]
    assert {"/", "/kyc", "/funding", "/trading", "/help"} <= set(client_pages)
    for path in dict.fromkeys(client_pages):
        await fits_a_phone(phone, path, output_dir, phone_shot_name("client", path))
    _ib_phone_context, ib_phone = await on_a_phone(browser, product.portal, ib_context)
    for path in IB_PHONE_PAGES:
        await fits_a_phone(ib_phone, path, output_dir, phone_shot_name("ib", path))


# -- steps ---------------------------------------------------------------------------------------


async def shoot_translated(page: Page, folder: Path, name: str) -> None:
    """Both languages' screenshots; the Chinese page's heading must not be the English one."""
    english, chinese = await screenshots(page, folder, name)
    assert chinese, f"{name}: no heading in Chinese"
    assert chinese != english, f"{name}: the heading {english!r} is not translated"


async def fill_and_next(page: Page, values: dict[str, str], *, submit: bool = False) -> None:
    for name, value in values.items():
        await page.fill(f"#f-{name}", value)
    if submit:
        await page.locator("main form button.primary").click()


async def wait_for_lines(page: Page, db: Database, client_id: int, *, closings: int) -> None:
    """Each closing deal pays the whole upline; wait until the page shows all of the sub-IB's lines."""
    deadline = datetime.now(UTC) + timedelta(seconds=90)
    while True:
        async with db.session() as session:
            paid = await session.scalar(
                select(func.count(func.distinct(CommissionLine.deal_id))).where(
                    CommissionLine.trader_client_id == client_id
                )
            )
        if (paid or 0) >= closings:
            return
        assert datetime.now(UTC) < deadline, f"only {paid} of {closings} closing deals earned commission"
        await page.wait_for_timeout(500)


# -- reading what the product wrote -------------------------------------------------------------


async def mailed_link(db: Database, to: str) -> str:
    async with db.session() as session:
        mail = await session.scalar(
            select(OutboxMail).where(OutboxMail.to_address == to).order_by(OutboxMail.id.desc()).limit(1)
        )
    assert mail is not None, f"no mail to {to}"
    match = re.search(r"https?://[^/\s]+(/verify-email/[^\s]+)", mail.text_body)
    assert match, mail.text_body
    return match.group(1)


async def user_id(db: Database, kind: str, email: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(User.id).where(User.kind == kind, User.email == email))
    assert found is not None, email
    return found


async def totp_secret(db: Database, email: str) -> str:
    async with db.session() as session:
        secret = await session.scalar(select(User.totp_secret).where(User.kind == STAFF, User.email == email))
    assert secret, f"{email} has no TOTP secret"
    return secret


async def trading_account(db: Database, login: int) -> TradingAccount:
    async with db.session() as session:
        found = await session.scalar(select(TradingAccount).where(TradingAccount.login == login))
    assert found is not None, login
    return found


async def partner_of(db: Database, email: str) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(Partner.id).join(User, User.id == Partner.client_id).where(User.email == email)
        )
    assert found is not None, email
    return found


async def commission_lines(db: Database, client_id: int) -> list[CommissionLine]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(CommissionLine)
                .where(CommissionLine.trader_client_id == client_id)
                .order_by(CommissionLine.deal_id, CommissionLine.beneficiary_id, CommissionLine.rule_id)
            )
        )


async def commission_account_balance(db: Database, partner_id: int) -> int:
    async with db.session() as session:
        account_id = await session.scalar(
            select(Account.id).where(
                Account.owner_kind == str(OwnerKind.IB),
                Account.owner_id == str(partner_id),
                Account.purpose == str(Purpose.IB_COMMISSION_PAYABLE),
                Account.currency == "USD",
            )
        )
    assert account_id is not None, f"partner {partner_id} has no commission account"
    return (await get_balance(db, account_id)).posted


async def expect_ledger_balance(db: Database, account_id: int | None, expected: int) -> None:
    assert account_id is not None
    assert (await get_balance(db, account_id)).posted == expected


def web_api(product: Product) -> Mt5WebApiPlatform:
    """A manager's own Web API session to the emulator, as a dealer's tool would open one."""
    config = product.emulator.config
    manager_login, manager_password = next(iter(sorted(config.managers.items())))
    return Mt5WebApiPlatform(
        Mt5ServerSettings(
            base_url=product.emulator.base_url,
            manager_login=manager_login,
            manager_password=manager_password,
            agent="BrokerDeskE2E",
            server_offset=timedelta(minutes=config.time_offset_minutes),
        )
    )
