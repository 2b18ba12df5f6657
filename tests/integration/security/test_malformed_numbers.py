"""Numbers typed into forms and API bodies: "²" passes ``str.isdigit`` but not ``int()``, and a
number past 64 bits passes ``int()`` but not the database. Each was a 500; each is now the page or
the JSON body that says what is wrong (core.ids), and nothing is written."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from core.db import Database
from core.settings import Settings
from tests.helpers import client_sign_in, csrf_from, make_client, make_staff, staff_sign_in
from tests.integration.cashier.web import grant_kyc
from tests.integration.security.routes import changed_tables, snapshot

pytestmark = pytest.mark.asyncio

SUPERSCRIPT = "²"
HUGE = str(2**64)


async def test_portal_forms_and_api_refuse_odd_numbers(
    settings: Settings, db: Database, portal_client: AsyncTestClient
) -> None:
    client_id = await make_client(db, settings, "numbers@example.test")
    await grant_kyc(db, client_id)
    assert (await client_sign_in(portal_client, "numbers@example.test")).status_code == 303
    token = csrf_from((await portal_client.get("/funding/withdraw")).text)
    before = await snapshot(db)
    answers = []
    for n, odd in enumerate((SUPERSCRIPT, HUGE, "1" + SUPERSCRIPT)):
        form = {"_csrf_token": token, "currency": "USD", "amount": "10.00", "idempotency_key": f"key-{n:08}"}
        answers += [
            await portal_client.post("/funding/withdraw", data={**form, "destination": f"bank:{odd}"}),
            await portal_client.post(
                "/funding/transfer", data={**form, "from": f"account:{odd}", "to": "wallet"}
            ),
            await portal_client.post(
                "/funding/convert", data={**form, "sell": "USD", "buy": "EUR", "rate_id": odd}
            ),
            await portal_client.post(
                "/api/v1/cashier/withdrawals",
                json={"currency": "USD", "amount": "10.00", "destination": f"bank:{odd}"},
                headers={"x-csrftoken": token, "idempotency-key": f"api-key-{n:08}"},
            ),
        ]
    # a card-like number with a superscript in it (the card check read it with int())
    answers.append(
        await portal_client.post(
            "/funding/bank-accounts",
            data={
                "_csrf_token": token,
                "holder_name": "Numbers Example",
                "country": "US",
                "number": f"411111111111111{SUPERSCRIPT}",
                "bic": "WESTGB2L",
                "bank_name": "West Bank",
                "currency": "USD",
            },
        )
    )
    for answer in answers:  # a 400, or the form shown again with its error
        assert answer.status_code < 500, f"{answer.request.url} -> {answer.status_code}"
        assert answer.status_code >= 400 or "error" in answer.text, answer.request.url
    assert changed_tables(before, await snapshot(db)) == []


async def test_back_office_filters_refuse_odd_numbers(settings: Settings, db: Database) -> None:
    from tests.apps import backoffice_app

    _id, secret = await make_staff(db, settings, "numbers@staff.test", ["admin"])
    assert secret
    async with AsyncTestClient(app=backoffice_app(settings, db)) as browser:
        await staff_sign_in(browser, "numbers@staff.test", secret)
        for odd in (SUPERSCRIPT, HUGE, "9" * 18):
            for url in (
                f"/audit?page={odd}",
                f"/finance/deposits?client_id={odd}",
                f"/finance/withdrawals?client_id={odd}",
            ):
                answer = await browser.get(url)
                assert answer.status_code == 200, f"{url} -> {answer.status_code}"
