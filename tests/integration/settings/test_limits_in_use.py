"""Limits set on the screen are what the cashier applies to the next request, without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cashier.bank_accounts import add_bank_account, verify_bank_account
from cashier.gates import Gates
from cashier.limits import policy_for_withdrawal
from cashier.models import Deposit, Withdrawal, WithdrawalStatus
from core.config_store import ConfigEntry
from core.db import Database
from core.settings import Settings
from core.storage import EncryptedFileStore
from tests.helpers import submit
from tests.integration.cashier.conftest import CLIENT, FINANCE, PDF, fund_by_wire
from tests.integration.cashier.web import grant_kyc, post_form
from tests.integration.settings.conftest import ClientFactory, StaffFactory, audit_events, count, page_text

pytestmark = pytest.mark.asyncio


def limits_form(**changes: str) -> dict[str, str]:
    base = {
        "deposit_min": "0.00",
        "deposit_max": "1000000.00",
        "deposit_daily_max": "2000000.00",
        "withdrawal_min": "0.00",
        "withdrawal_max": "50000.00",
        "withdrawal_daily_max": "100000.00",
        "four_eyes_from": "1000.00",
    }
    form = {"version": "0"}
    for currency in ("USD", "EUR"):
        for name, value in base.items():
            form[f"{currency}_{name}"] = value
    form.update(changes)
    return form


async def test_limits_are_validated_and_applied_at_use(
    staff_as: StaffFactory, client_as: ClientFactory, db: Database, settings: Settings, tmp_path: Path
) -> None:
    finance = await staff_as("finance@staff.test", ["finance"])
    page = await finance.get("/settings/limits")
    assert page.status_code == 200
    assert 'name="USD_withdrawal_max"' in page.text
    assert 'value="50000.00"' in page.text

    cases = [
        (
            {"USD_withdrawal_daily_max": "100.00", "USD_withdrawal_max": "200.00"},
            "USD withdrawals per day: must be at least the largest single withdrawal.",
        ),
        ({"EUR_deposit_min": "5000000.00"}, "EUR smallest deposit: cannot be more than the largest deposit."),
        ({"USD_four_eyes_from": "-1"}, "USD four-eyes threshold: cannot be negative."),
        (
            {"USD_withdrawal_max": "12.345"},
            "USD largest withdrawal: This currency takes at most 2 decimal places.",
        ),
        ({"USD_deposit_max": "0"}, "USD largest deposit: must be more than zero."),
        ({"USD_deposit_max": "lots"}, "USD largest deposit: Enter the amount as a number"),
    ]
    for change, message in cases:
        refused = await submit(finance, "/settings/limits", "/settings/limits", limits_form(**change))
        assert refused.status_code == 400, change
        assert message in page_text(refused.text), change
    assert await count(db, ConfigEntry) == 0
    assert await audit_events(db, "settings.limits_changed") == []

    client, client_id = await client_as("limits@example.test")
    await grant_kyc(db, client_id)
    store = EncryptedFileStore(tmp_path / "files", b"k" * 32)
    await fund_by_wire(db, store, client_id, 50_000)
    account = await add_bank_account(
        db,
        client_id=client_id,
        holder_name="Lee Example",
        country="GB",
        number="GB82WEST12345698765432",
        bic="WESTGB2L",
        bank_name="West",
        currency="USD",
        actor=CLIENT,
    )
    await verify_bank_account(db, account.id, FINANCE)
    withdraw = {"currency": "USD", "amount": "50.00", "destination": f"bank:{account.id}"}

    saved = await submit(
        finance,
        "/settings/limits",
        "/settings/limits",
        limits_form(
            USD_withdrawal_max="40.00",
            USD_withdrawal_daily_max="60.00",
            USD_four_eyes_from="10.00",
            USD_deposit_max="100.00",
        ),
    )
    assert saved.status_code == 303
    (event,) = await audit_events(db, "settings.limits_changed")
    assert event.before is not None
    assert event.before["USD"]["withdrawal_max"] == 5_000_000
    assert event.after is not None
    assert event.after["USD"]["withdrawal_max"] == 4_000
    assert event.after["EUR"]["withdrawal_max"] == 5_000_000

    over = await post_form(client, "/funding/withdraw", "/funding/withdraw", withdraw)
    assert over.status_code == 400
    assert "more than a single withdrawal may be" in page_text(over.text)
    first = await post_form(client, "/funding/withdraw", "/funding/withdraw", {**withdraw, "amount": "35.00"})
    assert first.status_code == 303
    second = await post_form(
        client, "/funding/withdraw", "/funding/withdraw", {**withdraw, "amount": "30.00"}
    )
    assert second.status_code == 400
    assert "daily withdrawal limit" in page_text(second.text)
    async with db.session() as session:
        rows = list(await session.scalars(select(Withdrawal)))
    assert [(w.amount, w.status) for w in rows] == [(3_500, WithdrawalStatus.PENDING_APPROVAL)]

    # the four-eyes threshold in force now: 35.00 >= 10.00 needs a second approver
    approved = await finance.post(
        f"/finance/withdrawals/{rows[0].id}/approve",
        data={
            "_csrf_token": (await finance.get("/finance/withdrawals"))
            .text.split('name="_csrf_token" value="')[1]
            .split('"')[0]
        },
        follow_redirects=False,
    )
    assert approved.status_code in (200, 303), approved.text
    async with db.session() as session:
        assert (await session.get(Withdrawal, rows[0].id)).status == WithdrawalStatus.AWAITING_SECOND_APPROVAL  # type: ignore[union-attr]
    policy = await policy_for_withdrawal(db, settings, rows[0].id)
    assert (policy.four_eyes_from, policy.per_transaction_max, policy.daily_max) == (1_000, 4_000, 6_000)

    # deposits: the largest single deposit is now 100.00 USD
    refused = await client.post(
        "/funding/deposit/wire",
        data={
            "_csrf_token": (await client.get("/funding/deposit"))
            .text.split('name="_csrf_token" value="')[1]
            .split('"')[0],
            "currency": "USD",
            "amount": "150.00",
            "idempotency_key": "wire-over-limit",
        },
        files={"proof": ("proof.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert refused.status_code == 400
    assert "more than a single deposit may be" in page_text(refused.text)
    async with db.session() as session:
        assert [d.amount for d in await session.scalars(select(Deposit))] == [50_000]  # only the funding


async def test_deposit_daily_limit_counts_the_day(db: Database, settings: Settings, tmp_path: Path) -> None:
    from cashier import deposits
    from cashier.errors import LimitExceededError
    from cashier.limits import CurrencyLimits
    from tests.helpers import make_client

    client_id = await make_client(db, settings, "daily@example.test")
    store = EncryptedFileStore(tmp_path / "files", b"k" * 32)
    limits = CurrencyLimits("USD", 1_000, 10_000, 15_000, 0, 10_000, 10_000, 10_000)

    async def wire(amount: int, key: str) -> Deposit:
        return await deposits.submit_wire_deposit(
            db,
            store,
            Gates(),
            client_id=client_id,
            currency="USD",
            amount=amount,
            proof=PDF,
            max_bytes=1024 * 1024,
            idempotency_key=f"daily-{key}",
            actor=CLIENT,
            limits=limits,
        )

    with pytest.raises(LimitExceededError, match="smallest deposit"):
        await wire(999, "small")
    first = await wire(10_000, "one")
    await deposits.reject_wire_deposit(db, first.id, "no money arrived", FINANCE)  # refused: not counted
    await wire(10_000, "two")
    with pytest.raises(LimitExceededError, match="daily deposit limit"):
        await wire(5_001, "three")
    await wire(5_000, "four")
