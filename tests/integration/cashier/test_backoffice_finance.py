"""Finance queues through the real back-office app: wire review, four eyes with two staff, payout,
CSV export, bank-account verification, rates, and every action audited under its permission."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from cashier import bank_accounts, deposits, withdrawals
from cashier.gates import Gates
from cashier.models import BankAccount, Deposit, DestinationKind, Withdrawal
from cashier.wallets import client_wallets
from cashier.withdrawals import Destination
from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from tests.helpers import make_staff, staff_sign_in
from tests.integration.cashier.conftest import CLIENT, PDF, POLICY, fund_by_wire
from tests.integration.cashier.web import grant_kyc, post_form

pytestmark = pytest.mark.asyncio
GRACE = 901


@pytest.fixture
def office_settings(settings: Settings, tmp_path: Path) -> Settings:
    from dataclasses import replace

    return replace(settings, storage_dir=str(tmp_path / "files"), withdrawal_four_eyes_minor=100_000)


async def staff_client(settings: Settings, db: Database, email: str, roles: list[str]) -> AsyncTestClient:
    from tests.apps import backoffice_app

    _id, secret = await make_staff(db, settings, email, roles)
    assert secret
    client = AsyncTestClient(app=backoffice_app(settings, db))
    await client.__aenter__()
    await staff_sign_in(client, email, secret)
    return client


@pytest.fixture
async def finance_pair(
    office_settings: Settings, db: Database
) -> AsyncIterator[tuple[AsyncTestClient, AsyncTestClient]]:
    first = await staff_client(office_settings, db, "fiona@staff.test", ["finance"])
    second = await staff_client(office_settings, db, "george@staff.test", ["finance"])
    yield first, second
    await first.__aexit__(None, None, None)
    await second.__aexit__(None, None, None)


async def balance(db: Database, client_id: int) -> tuple[int, int]:
    wallet = next(w for w in await client_wallets(db, client_id) if w.currency == "USD")
    return wallet.balance.posted, wallet.balance.available


async def test_wire_deposit_reviewed_with_the_amount_received(
    office_settings: Settings, db: Database, finance_pair: tuple[AsyncTestClient, AsyncTestClient]
) -> None:
    from cashier.config import proof_store

    fiona, _george = finance_pair
    await grant_kyc(db, GRACE)
    deposit = await deposits.submit_wire_deposit(
        db,
        proof_store(office_settings),
        Gates(),
        client_id=GRACE,
        currency="USD",
        amount=10_000,
        proof=PDF,
        max_bytes=1 << 20,
        idempotency_key="grace-wire-0001",
        actor=CLIENT,
    )
    queue = (await fiona.get("/finance/deposits/?status=awaiting_review")).text
    assert f'data-id="{deposit.id}" data-status="awaiting_review"' in queue
    assert '<td class="kyc">full</td>' in queue
    proof = await fiona.get(f"/finance/deposits/{deposit.id}/proof")
    assert proof.content == PDF
    assert proof.headers["content-type"] == "application/pdf"

    approved = await post_form(
        fiona, "/finance/deposits/", f"/finance/deposits/{deposit.id}/approve", {"received_amount": "99.50"}
    )
    assert approved.status_code == 303
    assert await balance(db, GRACE) == (9_950, 9_950)
    again = await post_form(
        fiona, "/finance/deposits/", f"/finance/deposits/{deposit.id}/approve", {"received_amount": "99.50"}
    )
    assert again.status_code == 303
    assert await balance(db, GRACE) == (9_950, 9_950)
    assert "Only a wire deposit awaiting review" in (await fiona.get("/finance/deposits/")).text

    export = await fiona.get("/finance/deposits/export.csv?status=credited")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[1][0] == str(deposit.id)
    assert rows[1][6] == "9950"
    async with db.session() as session:
        events = list(await session.scalars(select(AuditEvent).where(AuditEvent.action.like("cashier.%"))))
    by_action = {event.action: event for event in events}
    assert by_action["cashier.deposit_approved"].actor_email == "fiona@staff.test"
    assert by_action["cashier.deposit_approved"].after["credited_amount"] == 9_950
    assert "cashier.deposits_exported" in by_action


async def test_a_wire_above_the_clients_kyc_limit_is_not_credited(
    office_settings: Settings, db: Database, finance_pair: tuple[AsyncTestClient, AsyncTestClient]
) -> None:
    from cashier.config import proof_store
    from kyc.models import KycLevel

    fiona, _george = finance_pair
    await grant_kyc(db, GRACE, KycLevel.BASIC)
    deposit = await deposits.submit_wire_deposit(
        db,
        proof_store(office_settings),
        Gates(),
        client_id=GRACE,
        currency="USD",
        amount=10_000,
        proof=PDF,
        max_bytes=1 << 20,
        idempotency_key="grace-wire-0002",
        actor=CLIENT,
    )
    answer = await post_form(
        fiona, "/finance/deposits/", f"/finance/deposits/{deposit.id}/approve", {"received_amount": "2500.00"}
    )
    assert answer.status_code == 303
    page = (await fiona.get("/finance/deposits/?status=awaiting_review")).text
    assert "Not credited: Deposits above 2000 USD need verified documents." in page
    assert f'data-id="{deposit.id}" data-status="awaiting_review"' in page
    assert await balance(db, GRACE) == (0, 0)


async def test_four_eyes_withdrawal_through_the_queue(
    office_settings: Settings,
    db: Database,
    finance_pair: tuple[AsyncTestClient, AsyncTestClient],
    tmp_path: Path,
) -> None:
    from core.storage import EncryptedFileStore

    fiona, george = finance_pair
    await fund_by_wire(db, EncryptedFileStore(tmp_path / "x", b"k" * 32), GRACE, 300_000)
    await grant_kyc(db, GRACE)
    account = await bank_accounts.add_bank_account(
        db,
        client_id=GRACE,
        holder_name="Grace Example",
        country="GB",
        number="GB82WEST12345698765432",
        bic="WESTGB2L",
        bank_name="West",
        currency="USD",
        actor=CLIENT,
    )
    queue = (await fiona.get("/finance/bank-accounts/")).text
    assert f'data-id="{account.id}"' in queue
    assert (
        await post_form(fiona, "/finance/bank-accounts/", f"/finance/bank-accounts/{account.id}/verify", {})
    ).status_code == 303
    async with db.session() as session:
        assert (await session.get_one(BankAccount, account.id)).status == "verified"

    withdrawal = await withdrawals.request_withdrawal(
        db,
        Gates(),
        POLICY,
        client_id=GRACE,
        currency="USD",
        amount=150_000,
        destination=Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=account.id),
        idempotency_key="grace-withdrawal-1",
        actor=CLIENT,
    )
    page = (await fiona.get("/finance/withdrawals/")).text
    assert "four eyes" in page
    assert "3,000.00 USD" in page  # the client's balance beside the request

    url = f"/finance/withdrawals/{withdrawal.id}"
    await post_form(fiona, "/finance/withdrawals/", f"{url}/approve", {})
    await post_form(fiona, "/finance/withdrawals/", f"{url}/approve", {})  # same person again
    async with db.session() as session:
        assert (await session.get_one(Withdrawal, withdrawal.id)).status == "awaiting_second_approval"
    assert "A second approver must be someone else." in (await fiona.get("/finance/withdrawals/")).text
    await post_form(george, "/finance/withdrawals/", f"{url}/approve", {})
    await post_form(george, "/finance/withdrawals/", f"{url}/mark-paid", {"reference": "BANK-REF-77"})
    async with db.session() as session:
        paid = await session.get_one(Withdrawal, withdrawal.id)
    assert (paid.status, paid.payout_reference) == ("paid", "BANK-REF-77")
    assert await balance(db, GRACE) == (150_000, 150_000)

    export = await george.get("/finance/withdrawals/export.csv")
    assert f"{withdrawal.id},{GRACE},USD,150000,paid" in export.text
    async with db.session() as session:
        actors = list(
            await session.scalars(
                select(AuditEvent.actor_email)
                .where(AuditEvent.target_type == "withdrawal", AuditEvent.target_id == str(withdrawal.id))
                .order_by(AuditEvent.id)
            )
        )
    assert actors == ["client@example.test", "fiona@staff.test", "george@staff.test", "george@staff.test"]


async def test_bulk_approve_keeps_four_eyes(
    office_settings: Settings,
    db: Database,
    finance_pair: tuple[AsyncTestClient, AsyncTestClient],
    tmp_path: Path,
) -> None:
    from core.storage import EncryptedFileStore

    fiona, _george = finance_pair
    await fund_by_wire(db, EncryptedFileStore(tmp_path / "x", b"k" * 32), GRACE, 400_000)
    account = await bank_accounts.add_bank_account(
        db,
        client_id=GRACE,
        holder_name="Grace",
        country="GB",
        number="GB82WEST12345698765432",
        bic="WESTGB2L",
        bank_name="West",
        currency="USD",
        actor=CLIENT,
    )
    await bank_accounts.verify_bank_account(db, account.id, CLIENT)
    made = []
    for n, amount in enumerate((5_000, 150_000)):
        made.append(
            await withdrawals.request_withdrawal(
                db,
                Gates(),
                POLICY,
                client_id=GRACE,
                currency="USD",
                amount=amount,
                destination=Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=account.id),
                idempotency_key=f"bulk-{n}-abcdef",
                actor=CLIENT,
            )
        )
    html = (await fiona.get("/finance/withdrawals/")).text
    from tests.helpers import csrf_from

    answer = await fiona.post(
        "/finance/withdrawals/bulk-approve",
        data={"_csrf_token": csrf_from(html), "ids": [str(w.id) for w in made]},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    async with db.session() as session:
        statuses = [(await session.get_one(Withdrawal, w.id)).status for w in made]
    assert statuses == ["approved", "awaiting_second_approval"]


async def test_rates_entered_by_hand_are_listed_and_audited(office_settings: Settings, db: Database) -> None:
    admin = await staff_client(office_settings, db, "ada@staff.test", ["admin"])
    try:
        bad = await post_form(
            admin,
            "/finance/rates/",
            "/finance/rates/",
            {"base": "EUR", "quote": "USD", "rate": "-1", "spread": "0"},
        )
        assert bad.status_code == 400
        assert "positive number" in bad.text
        good = await post_form(
            admin,
            "/finance/rates/",
            "/finance/rates/",
            {"base": "EUR", "quote": "USD", "rate": "1.0850", "spread": "0.002"},
        )
        assert good.status_code == 303
        page = (await admin.get("/finance/rates/")).text
        assert "EUR/USD" in page
        assert "<td>1.085</td>" in page
    finally:
        await admin.__aexit__(None, None, None)
    async with db.session() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "cashier.rate_entered"))
    assert event is not None
    assert event.after == {"pair": "EUR/USD", "rate": "1.0850", "spread": "0.002", "source": "manual"}


async def test_finance_pages_need_their_permission(office_settings: Settings, db: Database) -> None:
    support = await staff_client(office_settings, db, "sam@staff.test", ["support"])
    try:
        for path in (
            "/finance/deposits/",
            "/finance/withdrawals/",
            "/finance/bank-accounts/",
            "/finance/rates/",
        ):
            assert (await support.get(path, follow_redirects=False)).status_code == 403, path
    finally:
        await support.__aexit__(None, None, None)
    async with db.session() as session:
        assert await session.scalar(select(Deposit.id)) is None


async def test_transfers_queue_shows_rate_and_spread(
    office_settings: Settings,
    db: Database,
    finance_pair: tuple[AsyncTestClient, AsyncTestClient],
    tmp_path: Path,
) -> None:
    from decimal import Decimal

    from cashier import conversions
    from cashier.rates import RateInput, enter_rate
    from core.storage import EncryptedFileStore

    fiona, _george = finance_pair
    await fund_by_wire(db, EncryptedFileStore(tmp_path / "x", b"k" * 32), GRACE, 50_000)
    rate = await enter_rate(db, RateInput("EUR", "USD", Decimal("1.0850"), Decimal("0.002")), CLIENT)
    await conversions.convert(
        db,
        client_id=GRACE,
        sell_currency="USD",
        buy_currency="EUR",
        sell_amount=10_850,
        rate_id=rate.id,
        idempotency_key="queue-convert-1",
        actor=CLIENT,
    )
    page = (await fiona.get("/finance/transfers/")).text
    assert "108.50 USD" in page
    assert "99.80 EUR" in page
    assert "1.085" in page
    export = await fiona.get(f"/finance/transfers/export.csv?client_id={GRACE}")
    assert f",{GRACE},conversion,10850,USD,9980,EUR,20,{rate.id},1.085,0.002,done," in export.text
