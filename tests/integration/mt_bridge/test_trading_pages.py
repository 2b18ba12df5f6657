"""Trading accounts through the real portal and back office, against the MT5 emulator on loopback:
demo and live opening, credentials shown once and mailed, KYC, approvals, leverage changes,
password resets, ownership, rate limits, and the outbox failure and reconciliation pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core import jobs
from core.audit.models import AuditEvent
from core.db import Database
from core.mail.delivery import BODY_REMOVED, deliver_mail
from core.mail.models import SENT, OutboxMail
from core.secrets_box import SecretsBox
from core.settings import Settings
from kyc.models import KycLevel
from mt_bridge import accounts, reconciliation
from mt_bridge.emulator.http_server import Emulator
from mt_bridge.models import Command, CommandStatus, TradingAccount, TradingAccountStatus, TradingServer
from mt_bridge.sync import sync_server
from tests.helpers import client_sign_in, csrf_from, latest_mail, make_client
from tests.integration.cashier.web import grant_kyc
from tests.integration.mt_bridge.bridge_setup import FAST_SYNC, Crm, build_crm
from tests.integration.mt_bridge.web import signed_in_staff
from tests.integration.test_mail import Inbox, smtp_server  # noqa: F401 - the SMTP fixture

pytestmark = pytest.mark.asyncio

TRADER = "trader@example.test"
OTHER = "other@example.test"


@pytest.fixture
async def web_crm(
    db: Database, settings: Settings, crm_emulator: Emulator, sent_jobs: list[jobs.Job]
) -> AsyncIterator[Crm]:
    """The CRM on the emulator, sealing with the apps' own secrets box; jobs are recorded and the
    test runs the outbox worker itself."""
    built = await build_crm(db, crm_emulator, box=SecretsBox.from_settings(settings))
    yield built
    await built.directory.close()


async def portal_as(settings: Settings, db: Database, email: str) -> tuple[AsyncTestClient, int]:
    from tests.apps import portal_app

    client_id = await make_client(db, settings, email)
    client = AsyncTestClient(app=portal_app(settings, db))
    await client.__aenter__()
    assert (await client_sign_in(client, email)).status_code == 303
    return client, client_id


@pytest.fixture
async def trader(
    settings: Settings, db: Database, web_crm: Crm
) -> AsyncIterator[tuple[AsyncTestClient, int]]:
    client, client_id = await portal_as(settings, db, TRADER)
    yield client, client_id
    await client.__aexit__(None, None, None)


@pytest.fixture
async def dealer(settings: Settings, db: Database) -> AsyncIterator[AsyncTestClient]:
    async with signed_in_staff(settings, db, "dealer@staff.test", ["dealing"]) as client:
        yield client


def open_form(html: str, type_id: int) -> dict[str, str]:
    """The CSRF token and idempotency key of the open-account form for one account type."""
    match = re.search(
        rf'name="account_type_id" value="{type_id}">\s*'
        r'<input type="hidden" name="idempotency_key" value="([^"]+)"',
        html,
    )
    assert match, "no open form for this account type"
    return {
        "_csrf_token": csrf_from(html),
        "idempotency_key": match.group(1),
        "account_type_id": str(type_id),
    }


async def open_account(client: AsyncTestClient, type_id: int, leverage: int) -> tuple[object, dict[str, str]]:
    fields = {**open_form((await client.get("/trading")).text, type_id), "leverage": str(leverage)}
    response = await client.post("/trading/open", data=fields, follow_redirects=False)
    return response, fields


def shown(html: str, css_class: str) -> str:
    match = re.search(rf'class="{css_class}">([^<]*)<', html)
    assert match, f"no {css_class} on the page"
    return match.group(1)


async def account_action(
    client: AsyncTestClient, account_id: int, action: str, data: dict[str, str]
) -> object:
    html = (await client.get("/trading")).text
    key = re.search(
        rf'action="/trading/{account_id}/{action}">.*?name="idempotency_key" value="([^"]+)"', html, re.S
    )
    fields = {"_csrf_token": csrf_from(html), "idempotency_key": key.group(1) if key else "none", **data}
    return await client.post(f"/trading/{account_id}/{action}", data=fields, follow_redirects=False)


async def the_account(db: Database, client_id: int) -> TradingAccount:
    async with db.session() as session:
        rows = list(
            await session.scalars(select(TradingAccount).where(TradingAccount.client_id == client_id))
        )
    assert len(rows) == 1
    return rows[0]


async def mails_to(db: Database, email: str) -> list[OutboxMail]:
    async with db.session() as session:
        return list(await session.scalars(select(OutboxMail).where(OutboxMail.to_address == email)))


async def test_a_demo_account_opens_on_the_emulator_with_credentials_shown_once_and_mailed(
    db: Database, web_crm: Crm, trader: tuple[AsyncTestClient, int]
) -> None:
    client, client_id = trader
    response, fields = await open_account(client, web_crm.demo_type_id, 500)
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    page = response.text  # type: ignore[attr-defined]
    assert "no-store" in response.headers["cache-control"]  # type: ignore[attr-defined]
    login = int(shown(page, "login"))
    main, investor = shown(page, "main-password"), shown(page, "investor-password")
    mail = await latest_mail(db, TRADER)
    assert mail.template == "trading_account_opened"
    assert str(login) in mail.text_body
    assert main in mail.text_body
    assert investor in mail.text_body

    await web_crm.run_outbox()
    user = web_crm.emulator.server.user(login)
    assert (user.password_main, user.password_investor, user.leverage) == (main, investor, 500)
    assert user.balance == Decimal("10000.00")
    await sync_server(db, web_crm.directory.platform, web_crm.server_id, FAST_SYNC)
    listing = (await client.get("/trading")).text
    row = re.search(r'<tr class="trading-account".*?</tr>', listing, re.S)
    assert row
    assert str(login) in row.group(0)
    assert "(demo)" in row.group(0)
    assert shown(row.group(0), "balance") == "10,000.00 USD"
    assert shown(row.group(0), "equity") == "10,000.00 USD"
    assert shown(row.group(0), "free-margin") == "10,000.00 USD"
    assert main not in listing
    assert investor not in listing

    # the same form sent again opens nothing and shows nothing
    again = await client.post("/trading/open", data=fields, follow_redirects=False)
    assert again.status_code == 303
    assert main not in (await client.get("/trading")).text
    assert (await the_account(db, client_id)).status is TradingAccountStatus.ACTIVE
    assert len(await mails_to(db, TRADER)) == 1


async def test_a_live_account_is_refused_without_kyc_and_opens_with_it(
    db: Database, web_crm: Crm, trader: tuple[AsyncTestClient, int]
) -> None:
    client, client_id = trader
    refused, _fields = await open_account(client, web_crm.live_type_id, 100)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "Verify your identity before opening a live account." in refused.text  # type: ignore[attr-defined]
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(TradingAccount)) == 0
        assert await session.scalar(select(func.count()).select_from(Command)) == 0
    assert await mails_to(db, TRADER) == []

    await grant_kyc(db, client_id, KycLevel.FULL)
    opened, _fields = await open_account(client, web_crm.live_type_id, 100)
    assert opened.status_code == 200  # type: ignore[attr-defined]
    login = int(shown(opened.text, "login"))  # type: ignore[attr-defined]
    await web_crm.run_outbox()
    account = await the_account(db, client_id)
    assert (account.login, account.status, account.is_demo) == (login, TradingAccountStatus.ACTIVE, False)
    assert account.ledger_account_id is not None
    assert web_crm.emulator.server.user(login).leverage == 100


async def test_approval_of_live_accounts_and_leverage_changes_auto_or_by_staff(
    db: Database, web_crm: Crm, trader: tuple[AsyncTestClient, int], dealer: AsyncTestClient
) -> None:
    client, client_id = trader
    await grant_kyc(db, client_id, KycLevel.FULL)
    opened, _fields = await open_account(client, web_crm.approval_type_id, 100)
    assert "reviews this account before it opens" in opened.text  # type: ignore[attr-defined]
    login = int(shown(opened.text, "login"))  # type: ignore[attr-defined]
    await web_crm.run_outbox()
    account = await the_account(db, client_id)
    assert account.status is TradingAccountStatus.AWAITING_APPROVAL
    assert login not in web_crm.emulator.server.users

    queue = (await dealer.get("/dealing/approvals")).text
    command_id = int(
        re.search(r'class="approval-row" data-id="(\d+)" data-kind="create_account"', queue).group(1)
    )  # type: ignore[union-attr]
    assert TRADER in queue
    assert "Pro" in queue
    approved = await dealer.post(
        f"/dealing/approvals/{command_id}/approve",
        data={"_csrf_token": csrf_from(queue)},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    await web_crm.run_outbox()
    assert (await the_account(db, client_id)).status is TradingAccountStatus.ACTIVE
    assert web_crm.emulator.server.user(login).leverage == 100

    # within the automatic limit (200): applied without staff
    automatic = await account_action(client, account.id, "leverage", {"leverage": "200"})
    assert automatic.status_code == 303  # type: ignore[attr-defined]
    assert "being applied" in (await client.get("/trading")).text
    await web_crm.run_outbox()
    assert web_crm.emulator.server.user(login).leverage == 200
    assert shown((await client.get("/trading")).text, "leverage") == "1:200"

    # above it (500): waits for staff; a rejection leaves it, an approval applies it
    for decision in ("reject", "approve"):
        await account_action(client, account.id, "leverage", {"leverage": "500"})
        assert "waits for approval" in (await client.get("/trading")).text
        await web_crm.run_outbox()
        assert web_crm.emulator.server.user(login).leverage == 200
        queue = (await dealer.get("/dealing/approvals")).text
        pending = re.search(r'class="approval-row" data-id="(\d+)" data-kind="change_leverage"', queue)
        assert pending
        assert "1:200 → 1:500" in queue
        decided = await dealer.post(
            f"/dealing/approvals/{pending.group(1)}/{decision}",
            data={"_csrf_token": csrf_from(queue), "reason": "too risky for now"},
            follow_redirects=False,
        )
        assert decided.status_code == 303
        await web_crm.run_outbox()
    assert web_crm.emulator.server.user(login).leverage == 500
    assert (await the_account(db, client_id)).leverage == 500
    decisions = [m for m in await mails_to(db, TRADER) if m.template == "trading_request_decided"]
    assert [m.subject for m in decisions] == [
        "Your trading account request was approved",
        "Your trading account request was declined",
        "Your trading account request was approved",
    ]
    assert "too risky for now" in decisions[1].text_body
    assert f"leverage change to 1:500 on login {login} was declined" in decisions[1].text_body
    async with db.session() as session:
        events = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action.like("dealing.command_%")))
        )
    assert [e.action for e in events] == [
        "dealing.command_approved",
        "dealing.command_rejected",
        "dealing.command_approved",
    ]
    assert all(e.actor_email == "dealer@staff.test" for e in events)
    assert events[1].before == {"status": "awaiting_approval", "maybe_applied": False}
    assert events[1].after is not None
    assert events[1].after["status"] == "rejected"
    # a leverage the account type doesn't offer is refused with a message
    refused = await account_action(client, account.id, "leverage", {"leverage": "300"})
    assert refused.status_code == 303  # type: ignore[attr-defined]
    assert "leverage 300 is not offered for this account type" in (await client.get("/trading")).text


async def test_a_rejected_live_account_never_reaches_the_server(
    db: Database, web_crm: Crm, trader: tuple[AsyncTestClient, int], dealer: AsyncTestClient
) -> None:
    client, client_id = trader
    await grant_kyc(db, client_id, KycLevel.FULL)
    await open_account(client, web_crm.approval_type_id, 200)
    queue = (await dealer.get("/dealing/approvals")).text
    command_id = re.search(r'class="approval-row" data-id="(\d+)"', queue).group(1)  # type: ignore[union-attr]
    no_reason = await dealer.post(
        f"/dealing/approvals/{command_id}/reject",
        data={"_csrf_token": csrf_from(queue)},
        follow_redirects=False,
    )
    assert no_reason.status_code == 303
    assert "Give a reason for the rejection." in (await dealer.get("/dealing/approvals")).text
    await dealer.post(
        f"/dealing/approvals/{command_id}/reject",
        data={"_csrf_token": csrf_from(queue), "reason": "incomplete profile"},
        follow_redirects=False,
    )
    await web_crm.run_outbox()
    assert (await the_account(db, client_id)).status is TradingAccountStatus.REJECTED
    assert web_crm.emulator.server.users == {}
    assert shown((await client.get("/trading")).text, "status") == "rejected"
    decision = await latest_mail(db, TRADER)
    assert decision.template == "trading_request_decided"
    assert "was declined" in decision.text_body
    assert "Reason: incomplete profile" in decision.text_body


async def test_a_password_reset_is_shown_once_mailed_and_set_on_the_server(
    db: Database, web_crm: Crm, trader: tuple[AsyncTestClient, int]
) -> None:
    client, client_id = trader
    await open_account(client, web_crm.demo_type_id, 100)
    await web_crm.run_outbox()
    account = await the_account(db, client_id)
    assert account.login is not None
    for kind in ("investor", "main"):
        reset = await account_action(client, account.id, "password", {"kind": kind})
        assert reset.status_code == 200  # type: ignore[attr-defined]
        assert "no-store" in reset.headers["cache-control"]  # type: ignore[attr-defined]
        password = shown(reset.text, "new-password")  # type: ignore[attr-defined]
        mail = await latest_mail(db, TRADER)
        assert mail.template == "trading_password_reset"
        assert password in mail.text_body
        await web_crm.run_outbox()
        user = web_crm.emulator.server.user(account.login)
        assert (user.password_investor if kind == "investor" else user.password_main) == password
        assert password not in (await client.get("/trading")).text
    api = await account_action(client, account.id, "password", {"kind": "api"})
    assert api.status_code == 303  # type: ignore[attr-defined]
    assert "Choose the main or the investor password." in (await client.get("/trading")).text


async def test_another_clients_account_is_404_and_nothing_changes(
    settings: Settings, db: Database, web_crm: Crm, trader: tuple[AsyncTestClient, int]
) -> None:
    client, client_id = trader
    await open_account(client, web_crm.demo_type_id, 100)
    await web_crm.run_outbox()
    account = await the_account(db, client_id)
    other, _other_id = await portal_as(settings, db, OTHER)
    try:
        for action, data in (("leverage", {"leverage": "500"}), ("password", {"kind": "main"})):
            response = await account_action(other, account.id, action, data)
            assert response.status_code == 404, action  # type: ignore[attr-defined]
        assert str(account.login) not in (await other.get("/trading")).text
    finally:
        await other.__aexit__(None, None, None)
    async with db.session() as session:
        kinds = list(await session.scalars(select(Command.kind).order_by(Command.id)))
    assert [k.value for k in kinds] == ["create_account", "balance_operation"]
    assert await mails_to(db, OTHER) == []


async def test_trading_actions_are_rate_limited(web_crm: Crm, trader: tuple[AsyncTestClient, int]) -> None:
    client, _client_id = trader
    statuses = []
    for _ in range(11):
        response, _fields = await open_account(client, web_crm.demo_type_id, 7)
        statuses.append(response.status_code)  # type: ignore[attr-defined]
    assert statuses == [400] * 10 + [429]


async def test_failed_commands_are_listed_with_retry_and_cancel(
    db: Database, web_crm: Crm, dealer: AsyncTestClient
) -> None:
    [account] = await web_crm.open_live_accounts(1)
    async with db.transaction() as session:
        too_much = await accounts.request_balance_operation(session, account.id, -5_000, request_key="w1")
        doomed = await accounts.request_balance_operation(session, account.id, -7_000, request_key="w2")
    await web_crm.run_outbox()
    page = (await dealer.get("/dealing/commands")).text
    assert f'data-id="{too_much.id}"' in page
    assert f'data-id="{doomed.id}"' in page
    assert "NotEnoughMoneyError" in page
    token = csrf_from(page)
    cancelled = await dealer.post(
        f"/dealing/commands/{doomed.id}/cancel", data={"_csrf_token": token, "reason": "client withdrew it"}
    )
    assert cancelled.status_code == 200
    async with db.transaction() as session:
        await accounts.request_balance_operation(session, account.id, 10_000, request_key="d1")
    await web_crm.run_outbox()
    retried = await dealer.post(f"/dealing/commands/{too_much.id}/retry", data={"_csrf_token": token})
    assert retried.status_code == 200
    await web_crm.run_outbox()
    async with db.session() as session:
        statuses = {c.id: c.status for c in await session.scalars(select(Command))}
    assert (statuses[too_much.id], statuses[doomed.id]) == (CommandStatus.DONE, CommandStatus.CANCELLED)
    assert web_crm.server_balances([account.login or 0]) == {account.login: 5_000}
    assert "No failed commands." in (await dealer.get("/dealing/commands")).text
    again = await dealer.post(f"/dealing/commands/{doomed.id}/retry", data={"_csrf_token": token})
    assert "only a failed command can be retried" in again.text
    async with db.session() as session:
        events = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action.like("dealing.command_%")))
        )
    assert [(e.action, e.target_id) for e in events] == [
        ("dealing.command_cancelled", str(doomed.id)),
        ("dealing.command_retried", str(too_much.id)),
    ]
    assert events[0].after is not None
    assert "client withdrew it" in events[0].after["last_error"]

    await sync_server(db, web_crm.directory.platform, web_crm.server_id, FAST_SYNC)
    await reconciliation.reconcile_server(db, web_crm.directory.platform, web_crm.server_id, FAST_SYNC)
    report = (await dealer.get("/dealing/reconciliation")).text
    assert "emulator" in report
    assert "logins compared: 1 · differences: 0" in report
    assert "No differences." in report


async def test_the_pages_and_the_credentials_mail_speak_simplified_chinese(
    db: Database, web_crm: Crm, trader: tuple[AsyncTestClient, int], dealer: AsyncTestClient
) -> None:
    client, client_id = trader
    async with db.transaction() as session:
        from core.identity.models import User

        user = await session.get(User, client_id)
        assert user is not None
        user.language = "zh_Hans"
    chinese = {"Accept-Language": "zh-CN"}
    page = await client.get("/trading", headers=chinese)
    assert "开立模拟账户" in page.text
    assert "交易账户" in page.text
    await open_account(client, web_crm.demo_type_id, 100)
    mail = await latest_mail(db, TRADER)
    assert mail.subject == "您的新交易账户"
    assert "主密码" in mail.text_body
    for path, text in (("/products/account-types", "账户类型"), ("/dealing/approvals", "账户审批")):
        assert text in (await dealer.get(path, headers=chinese)).text, path


async def test_a_credentials_mail_is_sent_over_smtp_then_blanked_in_the_outbox(
    db: Database,
    settings: Settings,
    web_crm: Crm,
    trader: tuple[AsyncTestClient, int],
    smtp_server: tuple[Inbox, int],  # noqa: F811 - the fixture imported above
) -> None:
    client, _client_id = trader
    opened, _fields = await open_account(client, web_crm.demo_type_id, 100)
    main = shown(opened.text, "main-password")  # type: ignore[attr-defined]
    mail = await latest_mail(db, TRADER)
    assert main in mail.text_body  # kept until it is sent
    inbox, port = smtp_server
    smtp = replace(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)
    assert await deliver_mail(db, smtp, mail.id) == SENT
    [received] = inbox.messages
    assert main in received.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    async with db.session() as session:
        stored = await session.get(OutboxMail, mail.id)
    assert stored is not None
    assert main not in stored.text_body
    assert main not in stored.html_body
    assert stored.text_body == BODY_REMOVED


async def test_account_types_of_a_disabled_server_are_not_offered(
    db: Database, web_crm: Crm, trader: tuple[AsyncTestClient, int]
) -> None:
    client, _client_id = trader
    html = (await client.get("/trading")).text
    fields = {**open_form(html, web_crm.demo_type_id), "leverage": "100"}
    async with db.transaction() as session:
        server = await session.get(TradingServer, web_crm.server_id)
        assert server is not None
        server.enabled = False
    assert 'name="account_type_id"' not in (await client.get("/trading")).text
    refused = await client.post("/trading/open", data=fields, follow_redirects=False)
    assert refused.status_code == 400
    assert "this account type is not offered" in refused.text
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(TradingAccount)) == 0
