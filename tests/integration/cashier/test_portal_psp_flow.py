"""The card deposit as a client lives it, over real sockets: the portal and the PSP sandbox both
served on loopback, the hosted page approved, the webhook delivered twice; the wallet is credited
once."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from cashier.models import Deposit, PspWebhookEvent
from cashier.psp.sandbox import PspSandbox
from core.db import Database
from core.settings import Settings
from ledger.models import Transfer
from tests.helpers import client_sign_in, make_client
from tests.integration.cashier.conftest import PSP_SECRET, assert_books_balanced, serve_on_loopback
from tests.integration.cashier.web import grant_kyc, post_form, wallet_row

pytestmark = pytest.mark.asyncio


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def live(settings: Settings, db: Database) -> AsyncIterator[tuple[PspSandbox, str]]:
    """Sandbox that always delivers twice, and the real portal app, both on loopback."""
    from dataclasses import replace

    from portal.app import create_app

    sandbox = PspSandbox(secret=PSP_SECRET.encode(), duplicate_rate=1.0, late_rate=0, retry_delays=(0.1, 0.3))
    sandbox_server = await serve_on_loopback(sandbox)
    port = free_port()
    portal_settings = replace(
        settings, portal_port=port, psp_sandbox_url=sandbox_server.url, psp_webhook_secret=PSP_SECRET
    )
    portal = await serve_on_loopback(create_app(portal_settings, database=db), port, lifespan="on")
    yield sandbox, portal.url
    await sandbox.drain()
    await portal.stop()
    await sandbox_server.stop()


async def test_card_deposit_end_to_end_credits_once(
    db: Database, settings: Settings, live: tuple[PspSandbox, str]
) -> None:
    sandbox, portal_url = live
    client_id = await make_client(db, settings, "payer@example.test")
    await grant_kyc(db, client_id)
    async with httpx.AsyncClient(base_url=portal_url) as browser:
        assert (await client_sign_in(browser, "payer@example.test")).status_code == 303
        assert "No wallet yet" in (await browser.get("/funding")).text

        page = await browser.get("/funding/deposit")
        answer = await post_form(
            browser, "/funding/deposit", "/funding/deposit/card", {"currency": "USD", "amount": "100.00"}
        )
        assert answer.status_code == 303
        hosted = answer.headers["location"]
        assert hosted.startswith(sandbox_url(sandbox, hosted))
        hosted_page = await browser.get(hosted)
        assert "Pay (approve)" in hosted_page.text
        back = await browser.post(f"{hosted}/approve", follow_redirects=False)
        assert back.status_code == 303
        assert back.headers["location"] == f"{portal_url}/funding/deposit/return"
        await sandbox.drain()

        assert "100.00 USD" in await wallet_row(browser)
        funding = (await browser.get("/funding")).text
        assert 'data-kind="deposit" data-status="credited"' in funding
        assert page.status_code == 200

    payment = next(iter(sandbox.payments.values()))
    assert payment.deliveries == 2  # the sandbox sent the webhook twice
    async with db.session() as session:
        credits = await session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.code == "deposit_psp")
        )
        outcomes = sorted(await session.scalars(select(PspWebhookEvent.outcome)))
        deposit = await session.scalar(select(Deposit))
    assert credits == 1
    assert outcomes == ["credited", "duplicate"]
    assert deposit is not None
    assert deposit.status == "credited"
    await assert_books_balanced(db)


def sandbox_url(_sandbox: PspSandbox, hosted: str) -> str:
    return hosted.split("/pay/")[0]


async def test_double_submitted_card_form_opens_one_payment(
    db: Database, settings: Settings, live: tuple[PspSandbox, str]
) -> None:
    sandbox, portal_url = live
    client_id = await make_client(db, settings, "double@example.test")
    await grant_kyc(db, client_id)
    async with httpx.AsyncClient(base_url=portal_url) as browser:
        await client_sign_in(browser, "double@example.test")
        html = (await browser.get("/funding/deposit")).text
        from tests.helpers import csrf_from
        from tests.integration.cashier.web import idempotency_keys

        fields = {
            "currency": "USD",
            "amount": "20.00",
            "_csrf_token": csrf_from(html),
            "idempotency_key": idempotency_keys(html)[0],
        }
        first = await browser.post("/funding/deposit/card", data=fields, follow_redirects=False)
        second = await browser.post("/funding/deposit/card", data=fields, follow_redirects=False)
    assert first.headers["location"].startswith("http://127.0.0.1")
    assert second.headers["location"] == first.headers["location"]  # the same payment page again
    assert len(sandbox.payments) == 1


async def test_kyc_gate_refuses_a_deposit_over_the_basic_limit(
    db: Database, settings: Settings, live: tuple[PspSandbox, str]
) -> None:
    from kyc.models import KycLevel

    sandbox, portal_url = live
    client_id = await make_client(db, settings, "basic@example.test")
    async with httpx.AsyncClient(base_url=portal_url) as browser:
        await client_sign_in(browser, "basic@example.test")
        refused = await post_form(
            browser, "/funding/deposit", "/funding/deposit/card", {"currency": "USD", "amount": "10.00"}
        )
        assert refused.status_code == 400
        assert "Complete your profile" in refused.text
        await grant_kyc(db, client_id, KycLevel.BASIC)
        too_much = await post_form(
            browser, "/funding/deposit", "/funding/deposit/card", {"currency": "USD", "amount": "1000000.00"}
        )
        assert too_much.status_code == 400
        assert "need verified documents" in too_much.text
    assert sandbox.payments == {}
