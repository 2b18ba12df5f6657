"""Conversions between a client's wallets through the ledger's FX at the shown rate, rates entered
by hand or loaded from a file by the scheduled job, and the other periodic sweeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from cashier import conversions, deposits, sweeps
from cashier.errors import InsufficientFundsError, RateError
from cashier.gates import Gates
from cashier.models import Deposit, InternalTransfer
from cashier.psp.sandbox import PspSandbox
from cashier.psp.sandbox_client import SandboxPsp
from cashier.rates import RateInput, enter_rate, load_rates_file
from cashier.wallets import client_wallets, house_accounts
from core.audit.models import AuditEvent
from core.audit.service import SYSTEM
from core.clock import utcnow
from core.db import Database
from core.settings import Settings
from core.storage import EncryptedFileStore
from ledger.chart import Purpose
from ledger.models import Transfer
from ledger.reading import get_balance
from tests.helpers import client_sign_in, make_client
from tests.integration.cashier.conftest import (
    CLIENT,
    FINANCE,
    PSP_SECRET,
    assert_books_balanced,
    fund_by_wire,
)
from tests.integration.cashier.web import post_form

pytestmark = pytest.mark.asyncio
HANNA = 1001


async def wallets(db: Database, client_id: int = HANNA) -> dict[str, tuple[int, int]]:
    return {w.currency: (w.balance.posted, w.balance.available) for w in await client_wallets(db, client_id)}


async def eur_usd(db: Database) -> int:
    rate = await enter_rate(db, RateInput("EUR", "USD", Decimal("1.0850"), Decimal("0.002")), FINANCE)
    return rate.id


async def test_conversion_uses_the_quoted_rate_and_books_the_spread(
    db: Database, store: EncryptedFileStore
) -> None:
    await fund_by_wire(db, store, HANNA, 100_000, "USD")
    rate_id = await eur_usd(db)
    priced = await conversions.quote_conversion(
        db, sell_currency="USD", buy_currency="EUR", sell_amount=10_850
    )
    assert priced.rate.id == rate_id
    assert priced.quote.mid_amount == 10_000  # 108.50 USD at 1.0850 is 100.00 EUR
    assert priced.quote.buy_amount == 9_980  # less the 0.2 % spread, rounded down
    done = await conversions.convert(
        db,
        client_id=HANNA,
        sell_currency="USD",
        buy_currency="EUR",
        sell_amount=10_850,
        rate_id=rate_id,
        idempotency_key="convert-key-001",
        actor=CLIENT,
    )
    again = await conversions.convert(
        db,
        client_id=HANNA,
        sell_currency="USD",
        buy_currency="EUR",
        sell_amount=10_850,
        rate_id=rate_id,
        idempotency_key="convert-key-001",
        actor=CLIENT,
    )
    assert again.id == done.id
    assert (done.rate, done.spread, done.to_amount, done.spread_amount) == ("1.085", "0.002", 9_980, 20)
    assert await wallets(db) == {"USD": (89_150, 89_150), "EUR": (9_980, 9_980)}
    async with db.session() as session:
        house = await house_accounts(session, "EUR")
        rate_ids = set(await session.scalars(select(Transfer.rate_id).where(Transfer.code.like("fx%"))))
    assert (await get_balance(db, house[Purpose.FX_SPREAD_REVENUE])).posted == 20
    assert rate_ids == {rate_id}  # every leg records the rate it used
    await assert_books_balanced(db, "USD", "EUR")


async def test_conversion_refusals(db: Database, store: EncryptedFileStore) -> None:
    await fund_by_wire(db, store, HANNA, 1_000, "USD")
    with pytest.raises(RateError, match="No exchange rate"):
        await conversions.quote_conversion(db, sell_currency="USD", buy_currency="EUR", sell_amount=100)
    rate_id = await eur_usd(db)
    with pytest.raises(InsufficientFundsError):
        await conversions.convert(
            db,
            client_id=HANNA,
            sell_currency="USD",
            buy_currency="EUR",
            sell_amount=5_000,
            rate_id=rate_id,
            idempotency_key="convert-key-002",
            actor=CLIENT,
        )
    old = await enter_rate(
        db,
        RateInput("EUR", "USD", Decimal("1.2"), Decimal("0")),
        FINANCE,
        observed_at=utcnow() - timedelta(hours=1),
    )
    with pytest.raises(RateError, match="expired"):
        await conversions.convert(
            db,
            client_id=HANNA,
            sell_currency="USD",
            buy_currency="EUR",
            sell_amount=500,
            rate_id=old.id,
            idempotency_key="convert-key-003",
            actor=CLIENT,
        )
    async with db.session() as session:
        assert await session.scalar(select(InternalTransfer.id)) is None
    assert (await wallets(db))["USD"] == (1_000, 1_000)


async def test_portal_shows_the_rate_before_converting(
    db: Database, settings: Settings, portal_client: AsyncTestClient, store: EncryptedFileStore
) -> None:
    client_id = await make_client(db, settings, "ivan@example.test")
    await client_sign_in(portal_client, "ivan@example.test")
    await fund_by_wire(db, store, client_id, 50_000, "USD")
    await eur_usd(db)
    quote = await post_form(
        portal_client,
        "/funding/convert",
        "/funding/convert/quote",
        {"sell": "USD", "buy": "EUR", "amount": "108.50"},
    )
    assert quote.status_code == 200
    assert "EUR/USD 1.085</span>" in quote.text
    assert '<span class="spread">0.002</span>' in quote.text
    assert "99.80 EUR" in quote.text
    from tests.helpers import csrf_from
    from tests.integration.cashier.web import idempotency_keys

    fields = {
        "sell": "USD",
        "buy": "EUR",
        "amount": "108.50",
        "_csrf_token": csrf_from(quote.text),
        "idempotency_key": idempotency_keys(quote.text)[0],
        "rate_id": quote.text.split('name="rate_id" value="')[1].split('"')[0],
    }
    done = await portal_client.post("/funding/convert", data=fields, follow_redirects=False)
    assert done.status_code == 303
    page = (await portal_client.get("/funding")).text
    assert "99.80 EUR" in page
    assert "at 1.085 (spread 0.002)" in page
    assert await wallets(db, client_id) == {"USD": (39_150, 39_150), "EUR": (9_980, 9_980)}


async def test_rates_file_loads_every_rate(db: Database, tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "rates.json"
    path.write_text(
        '[{"base": "EUR", "quote": "USD", "rate": "1.09", "spread": "0.001"},'
        ' {"base": "GBP", "quote": "USD", "rate": "1.27", "spread": "0.002"}]'
    )
    assert await sweeps.load_configured_rates(db, settings) == 0  # no source configured
    assert await sweeps.load_configured_rates(db, replace(settings, rates_file=str(path))) == 2
    loaded = await load_rates_file(db, path, SYSTEM)
    assert {(r.base, r.source) for r in loaded} == {("EUR", "file:rates.json"), ("GBP", "file:rates.json")}
    async with db.session() as session:
        audited = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action == "cashier.rate_entered")
            )
        )
    assert len(audited) == 4


async def test_stale_deposit_sweep_polls_the_psp(
    db: Database, settings: Settings, sandbox: tuple[PspSandbox, SandboxPsp]
) -> None:
    _sandbox, psp = sandbox
    deposit = await deposits.start_psp_deposit(
        db,
        psp,
        Gates(),
        client_id=HANNA,
        currency="USD",
        amount=7_000,
        idempotency_key="sweep-dep-01",
        actor=CLIENT,
        return_url="",
        callback_url="http://127.0.0.1:9/x",
    )
    async with httpx.AsyncClient(base_url=psp.base_url) as http:
        await http.post(f"/v1/payments/{deposit.psp_payment_id}/decision", json={"decision": "approve"})
    swept_settings = replace(settings, psp_sandbox_url=psp.base_url, psp_webhook_secret=PSP_SECRET)
    assert await sweeps.poll_stale_deposits(db, swept_settings) == {}  # too recent to poll
    async with db.transaction() as session:
        row = await session.get_one(Deposit, deposit.id)
        row.created_at = utcnow() - timedelta(minutes=5)
    assert await sweeps.poll_stale_deposits(db, swept_settings) == {"credited": 1}
    assert await sweeps.poll_stale_deposits(db, swept_settings) == {}
    assert (await wallets(db))["USD"] == (7_000, 7_000)
