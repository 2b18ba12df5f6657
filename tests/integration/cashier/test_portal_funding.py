"""The funding pages through the real portal app: bank accounts, withdrawals with their checks,
cancellation, another client's request out of reach, statements, the webhook endpoint, the API."""

from __future__ import annotations

import csv
import io

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from cashier import bank_accounts
from cashier.models import BankAccount, PspWebhookEvent, Withdrawal
from core.db import Database
from core.settings import Settings
from core.storage import EncryptedFileStore
from tests.helpers import client_sign_in, csrf_from, make_client
from tests.integration.cashier.conftest import FINANCE, fund_by_wire
from tests.integration.cashier.web import grant_kyc, post_form, wallet_row

pytestmark = pytest.mark.asyncio
GB_IBAN = "GB82 WEST 1234 5698 7654 32"


async def signed_in_client(db: Database, settings: Settings, client: AsyncTestClient, email: str) -> int:
    client_id = await make_client(db, settings, email)
    assert (await client_sign_in(client, email)).status_code == 303
    return client_id


async def add_account(
    client: AsyncTestClient, number: str = GB_IBAN, country: str = "GB", bic: str = "WESTGB2L"
):  # type: ignore[no-untyped-def]
    data = {
        "holder_name": "Dana Example",
        "country": country,
        "number": number,
        "bic": bic,
        "bank_name": "West Bank",
        "currency": "USD",
    }
    return await post_form(client, "/funding/bank-accounts", "/funding/bank-accounts", data)


async def test_bank_accounts_are_validated_and_cards_refused(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    await signed_in_client(db, settings, portal_client, "dana@example.test")
    bad_iban = await add_account(portal_client, "GB82 WEST 1234 5698 7654 33")
    assert bad_iban.status_code == 400
    assert "IBAN is not valid" in bad_iban.text
    card = await add_account(portal_client, "4111 1111 1111 1111", country="US")
    assert card.status_code == 400
    assert "Card numbers are not accepted" in card.text
    assert "4111" not in card.text  # not even echoed back
    bad_bic = await add_account(portal_client, bic="WEST")
    assert "SWIFT/BIC code is not valid" in bad_bic.text
    saved = await add_account(portal_client)
    assert saved.status_code == 303
    page = (await portal_client.get("/funding/bank-accounts")).text
    assert "GB82WEST12345698765432" in page
    assert 'data-status="unverified"' in page
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(BankAccount)) == 1


async def test_withdrawal_from_the_portal(
    db: Database, settings: Settings, portal_client: AsyncTestClient, store: EncryptedFileStore
) -> None:
    client_id = await signed_in_client(db, settings, portal_client, "erin@example.test")
    await fund_by_wire(db, store, client_id, 20_000)
    assert (await add_account(portal_client)).status_code == 303
    async with db.session() as session:
        account_id = await session.scalar(select(BankAccount.id))
    assert account_id is not None
    await bank_accounts.verify_bank_account(db, account_id, FINANCE)
    form = {"currency": "USD", "amount": "50.00", "destination": f"bank:{account_id}"}

    no_kyc = await post_form(portal_client, "/funding/withdraw", "/funding/withdraw", form)
    assert no_kyc.status_code == 400
    assert "Verify your identity before withdrawing" in no_kyc.text
    await grant_kyc(db, client_id)

    too_precise = await post_form(
        portal_client, "/funding/withdraw", "/funding/withdraw", {**form, "amount": "10.001"}
    )
    assert "at most 2 decimal places" in too_precise.text
    negative = await post_form(
        portal_client, "/funding/withdraw", "/funding/withdraw", {**form, "amount": "-5"}
    )
    assert "more than zero" in negative.text
    too_much = await post_form(
        portal_client, "/funding/withdraw", "/funding/withdraw", {**form, "amount": "250.00"}
    )
    assert "available balance is not enough" in too_much.text

    html = (await portal_client.get("/funding/withdraw")).text
    fields = {
        **form,
        "_csrf_token": csrf_from(html),
        "idempotency_key": html.split('name="idempotency_key" value="')[1].split('"')[0],
    }
    first = await portal_client.post("/funding/withdraw", data=fields, follow_redirects=False)
    again = await portal_client.post("/funding/withdraw", data=fields, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    row = await wallet_row(portal_client)
    assert "200.00 USD" in row
    assert "150.00 USD" in row  # available after the 50.00 reserved once
    async with db.session() as session:
        withdrawal = await session.scalar(select(Withdrawal))
        assert await session.scalar(select(func.count()).select_from(Withdrawal)) == 1
    assert withdrawal is not None

    cancel = await post_form(portal_client, "/funding", f"/funding/withdrawals/{withdrawal.id}/cancel", {})
    assert cancel.status_code == 303
    assert "200.00 USD" in (await wallet_row(portal_client)).split("</td>")[3]
    assert 'data-kind="withdrawal" data-status="cancelled"' in (await portal_client.get("/funding")).text


async def test_another_clients_withdrawal_is_out_of_reach(
    db: Database, settings: Settings, portal_client: AsyncTestClient, store: EncryptedFileStore
) -> None:
    from cashier import withdrawals
    from cashier.gates import Gates
    from cashier.models import DestinationKind
    from cashier.withdrawals import Destination
    from tests.integration.cashier.conftest import CLIENT, POLICY

    victim = await make_client(db, settings, "victim@example.test")
    await fund_by_wire(db, store, victim, 10_000)
    account = await bank_accounts.add_bank_account(
        db,
        client_id=victim,
        holder_name="Victim",
        country="GB",
        number=GB_IBAN,
        bic="WESTGB2L",
        bank_name="West",
        currency="USD",
        actor=CLIENT,
    )
    await bank_accounts.verify_bank_account(db, account.id, FINANCE)
    theirs = await withdrawals.request_withdrawal(
        db,
        Gates(),
        POLICY,
        client_id=victim,
        currency="USD",
        amount=1_000,
        destination=Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=account.id),
        idempotency_key="victim-withdrawal",
        actor=CLIENT,
    )
    await signed_in_client(db, settings, portal_client, "attacker@example.test")
    await post_form(portal_client, "/funding", f"/funding/withdrawals/{theirs.id}/cancel", {})
    await post_form(
        portal_client, "/funding/bank-accounts", f"/funding/bank-accounts/{account.id}/remove", {}
    )
    async with db.session() as session:
        assert (await session.get_one(Withdrawal, theirs.id)).status == "pending_approval"
        assert (await session.get_one(BankAccount, account.id)).status == "verified"
    assert "victim" not in (await portal_client.get("/funding")).text.lower()


async def test_money_actions_are_rate_limited(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    client_id = await signed_in_client(db, settings, portal_client, "spam@example.test")
    await grant_kyc(db, client_id)
    statuses = []
    for _ in range(12):
        answer = await post_form(
            portal_client,
            "/funding/withdraw",
            "/funding/withdraw",
            {"currency": "USD", "amount": "1.00", "destination": "psp:sandbox"},
        )
        statuses.append(answer.status_code)
    assert statuses[:10] == [400] * 10  # refused on the merits (no deposit through that provider)
    assert statuses[10:] == [429, 429]


async def test_statement_csv_lists_wallet_entries(
    db: Database, settings: Settings, portal_client: AsyncTestClient, store: EncryptedFileStore
) -> None:
    client_id = await signed_in_client(db, settings, portal_client, "frank@example.test")
    await fund_by_wire(db, store, client_id, 12_345)
    answer = await portal_client.get("/funding/statement.csv?currency=USD")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["date", "description", "reference", "amount", "pending", "balance", "currency"]
    assert rows[1][1] == "opening balance"
    assert rows[2][1:] == ["deposit_wire", rows[2][2], "123.45", "0.00", "123.45", "USD"]
    assert rows[2][2].startswith("deposit:")
    assert (await portal_client.get("/funding/statement.csv?currency=XXX")).status_code == 400


async def test_webhook_endpoint_needs_no_csrf_and_refuses_bad_signatures(
    db: Database, portal_client: AsyncTestClient
) -> None:
    answer = await portal_client.post(
        "/cashier/psp/sandbox/webhook", content=b'{"event_id": "x"}', headers={"x-psp-signature": "t=1,v1=00"}
    )
    assert answer.status_code == 400
    assert answer.json() == {"outcome": "rejected"}
    assert (await portal_client.post("/cashier/psp/nobody/webhook", content=b"{}")).status_code == 404
    async with db.session() as session:
        logged = list(await session.scalars(select(PspWebhookEvent.outcome)))
    assert logged == ["rejected"]


async def test_funding_api_takes_the_idempotency_key_header(
    db: Database, settings: Settings, portal_client: AsyncTestClient, store: EncryptedFileStore
) -> None:
    client_id = await signed_in_client(db, settings, portal_client, "api@example.test")
    await grant_kyc(db, client_id)
    await fund_by_wire(db, store, client_id, 50_000)
    account = await bank_accounts.add_bank_account(
        db,
        client_id=client_id,
        holder_name="Api Client",
        country="GB",
        number=GB_IBAN,
        bic="WESTGB2L",
        bank_name="West",
        currency="USD",
        actor=FINANCE,
    )
    await bank_accounts.verify_bank_account(db, account.id, FINANCE)
    token = csrf_from((await portal_client.get("/funding")).text)
    body = {"currency": "USD", "amount": "25.00", "destination": f"bank:{account.id}"}
    headers = {"x-csrftoken": token, "Idempotency-Key": "api-withdrawal-0001"}
    first = await portal_client.post("/api/v1/cashier/withdrawals", json=body, headers=headers)
    second = await portal_client.post("/api/v1/cashier/withdrawals", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    missing = await portal_client.post(
        "/api/v1/cashier/withdrawals", json=body, headers={"x-csrftoken": token}
    )
    assert missing.status_code == 400
    assert "expired" in missing.json()["detail"]
    wallets = (await portal_client.get("/api/v1/cashier/wallets")).json()
    assert wallets == [
        {"currency": "USD", "scale": 2, "posted": 50_000, "reserved": 2_500, "available": 47_500}
    ]


async def test_funding_page_in_chinese(
    db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    await signed_in_client(db, settings, portal_client, "li@example.test")
    await post_form(portal_client, "/funding", "/language", {"language": "zh_Hans", "next": "/funding"})
    page = (await portal_client.get("/funding")).text
    assert "出入金记录" in page
    assert "尚无钱包" in page
