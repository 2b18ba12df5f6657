"""The IDOR sweep: every portal route whose path names a client-owned object answers another
client's ids with 403 or 404, for reading and for writing, and changes nothing.

Routes come from the portal's route table. A path parameter is mapped to the kind of object it
names (by the parameter's name, or by the route where one name means two kinds); a new route with
a parameter this sweep can't place fails here until it is added to :data:`KIND_BY_PARAM`,
:data:`KIND_BY_ROUTE` or, with the reason, :data:`NOT_OWNED`.

The victim (Alice) is a KYC-approved client with a wallet, a deposit, a withdrawal, a bank account,
a KYC document and a trading account, and an IB with a sub-IB, clients, commission lines, a link and
a payout. The attacker (Carol) is the same kind of client and IB, with her own network, so every
guard lets her through and only ownership can stop her. Each id is then shown to work for Alice.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from httpx import Response
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from cashier import bank_accounts, withdrawals
from cashier.config import withdrawal_policy
from cashier.gates import Gates
from cashier.models import DestinationKind
from cashier.withdrawals import Destination
from core import clock, jobs
from core.db import Database
from core.secrets_box import SecretsBox
from core.settings import Settings
from core.storage import EncryptedFileStore
from ib import attribution
from ib.models import Payout
from ib.payouts import pay_out
from kyc.documents import upload_document
from kyc.models import DocumentKind, DocumentSide
from mt_bridge.models import (
    TradingAccount,
    TradingAccountStatus,
)
from support.attachments import Upload
from support.models import MessageSource, TicketAttachment
from support.tickets import open_ticket
from tests.helpers import client_sign_in, csrf_from
from tests.integration.cashier.conftest import CLIENT, FINANCE, fund_by_wire
from tests.integration.cashier.web import grant_kyc
from tests.integration.ib.portal_world import EMAILS, PortalWorld, seed
from tests.integration.ib.world import STAFF
from tests.integration.security.routes import UNSAFE_METHODS, Route, changed_tables, routes_of, snapshot
from tests.products import add_product

pytestmark = pytest.mark.asyncio

KIND_BY_PARAM = {
    "document_id": "kyc_document",
    "withdrawal_id": "withdrawal",
    "deposit_id": "deposit",
    "client_id": "network_client",
    "link_id": "referral_link",
    "payout_id": "payout",
    "ticket_id": "support_ticket",
    "attachment_id": "support_attachment",
}
KIND_BY_ROUTE = {
    ("/ib/commissions/", "deal_id"): "commission_line_deal",
    ("/ib/commissions/", "rule_id"): "commission_line_rule",
    ("/api/v1/ib/commissions/", "deal_id"): "commission_line_deal",
    ("/api/v1/ib/commissions/", "rule_id"): "commission_line_rule",
    ("/funding/bank-accounts/", "account_id"): "bank_account",
    ("/trading/", "account_id"): "trading_account",
}
NOT_OWNED = {
    "step": "a step of the KYC wizard over the signed-in client's own profile, not an object id",
    "token": "a one-time secret mailed to its owner (verify, reset): holding it is the authorisation",
    "code": "a referral code, public by design",
    "psp_name": "a payment provider's name",
    "file_path": "static files",
    "path": "the OpenAPI schema's files",
    "announcement_id": (
        "an announcement is the broker's, not a client's; one outside the client's audience or window "
        "answers 404 (tests/integration/settings/test_announcements.py)"
    ),
    "article_slug": (
        "a help article is the broker's, public to every reader; a draft answers 404 "
        "(tests/integration/knowledge/test_help_centre.py)"
    ),
}
FORM = {
    "leverage": "100",
    "password": "Another-Strong-Pass-1",
    "password_confirm": "Another-Strong-Pass-1",
    "kind": "main",
    "reason": "mine now",
    "amount": "1.00",
}
"""A plausible form for any write, so that only ownership can refuse it."""


def kind_of(route: Route, param: str) -> str | None:
    for (prefix, name), kind in KIND_BY_ROUTE.items():
        if name == param and route.path.startswith(prefix):
            return kind
    return KIND_BY_PARAM.get(param)


def owned_routes(routes: list[Route]) -> list[tuple[Route, dict[str, str]]]:
    """Each route naming an owned object, with param -> kind; fails on a parameter it can't place."""
    found = []
    for route in routes:
        kinds = {}
        for param in route.params:
            kind = kind_of(route, param)
            if kind is None:
                assert param in NOT_OWNED, (
                    f"{route}: the IDOR sweep doesn't know what {{{param}}} names; add it to "
                    "KIND_BY_PARAM / KIND_BY_ROUTE (and seed one for the victim) or to NOT_OWNED"
                )
                continue
            kinds[param] = kind
        if kinds:
            found.append((route, kinds))
    return found


async def trading_account(db: Database, settings: Settings, client_id: int) -> int:
    """An active live MT5 account of the client's (the bridge isn't needed to be refused)."""
    async with db.transaction() as session:
        product = await add_product(
            session,
            server_name="idor-mt5",
            group_name="real\\idor",
            codes=(("idor", "IDOR standard"),),
            login_range_start=700_000,
            manager_password_sealed=SecretsBox.from_settings(settings).seal("unused", "idor"),
            leverage_options=(50, 100),
        )
        server, group, kind = product.server, product.group, product.account_type
        account = TradingAccount(
            client_id=client_id,
            server_id=server.id,
            account_type_id=kind.id,
            login=700_001,
            group_name=group.name,
            currency="USD",
            leverage=50,
            status=TradingAccountStatus.ACTIVE,
        )
        session.add(account)
        await session.flush()
        return account.id


async def victim_objects(db: Database, settings: Settings, world: PortalWorld) -> dict[str, int]:
    alice = world.users["A"]
    await grant_kyc(db, alice)
    store = EncryptedFileStore.from_settings(settings)
    deposit = await fund_by_wire(db, store, alice, 900_00)
    account = await bank_accounts.add_bank_account(
        db,
        client_id=alice,
        holder_name="Alice Example",
        country="GB",
        number="GB82 WEST 1234 5698 7654 32",
        bic="WESTGB2L",
        bank_name="West Bank",
        currency="USD",
        actor=CLIENT,
    )
    await bank_accounts.verify_bank_account(db, account.id, FINANCE)
    withdrawal = await withdrawals.request_withdrawal(
        db,
        Gates(),
        withdrawal_policy(settings),
        client_id=alice,
        currency="USD",
        amount=100_00,
        destination=Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=account.id),
        idempotency_key="idor-victim-withdrawal",
        actor=CLIENT,
    )
    async with db.transaction() as session:
        document = await upload_document(
            session,
            store,
            client_id=alice,
            kind=DocumentKind.PASSPORT,
            side=DocumentSide.SINGLE,
            filename="passport.pdf",
            data=b"%PDF-1.4\n" + b"alice passport " * 40,
            expires_on=date(2031, 1, 1),
            max_bytes=settings.max_upload_bytes,
            today=date.today(),
        )
        link = await attribution.create_link(
            session, world.partner("A"), campaign="alice", actor=STAFF, now=world.today
        )
        ticket = await open_ticket(
            session,
            store,
            client_id=alice,
            category="funding",
            priority="normal",
            subject="Alice's ticket",
            body="Where is my deposit?",
            upload=Upload("receipt.pdf", b"%PDF-1.4\n" + b"alice receipt " * 40),
            max_bytes=settings.max_upload_bytes,
            source=MessageSource.PORTAL,
            actor=CLIENT,
            now=clock.utcnow(),
        )
        attachment = await session.scalar(
            select(TicketAttachment.id).where(TicketAttachment.ticket_id == ticket.id)
        )
    await pay_out(db, world.partner("A"))
    async with db.session() as session:
        payout = await session.scalar(select(Payout.id).where(Payout.partner_id == world.partner("A")))
    assert payout is not None
    line_deal, line_rule = (int(part) for part in (await world.line_paths("A"))[0].split("/"))
    return {
        "kyc_document": document.id,
        "withdrawal": withdrawal.id,
        "deposit": deposit,
        "bank_account": account.id,
        "trading_account": await trading_account(db, settings, alice),
        "network_client": world.users["Y"],
        "commission_line_deal": line_deal,
        "commission_line_rule": line_rule,
        "referral_link": link.id,
        "payout": payout,
        "support_ticket": ticket.id,
        "support_attachment": attachment,
    }


async def request(browser: AsyncTestClient, route: Route, url: str) -> Response:
    if route.method in UNSAFE_METHODS:
        token = csrf_from((await browser.get("/account")).text)
        return await browser.request(
            route.method, url, data={**FORM, "_csrf_token": token}, follow_redirects=False
        )
    return await browser.get(url, follow_redirects=False)


async def test_another_clients_ids_give_403_or_404_everywhere(
    settings: Settings, db: Database, sent_jobs: list[jobs.Job]
) -> None:
    from tests.apps import portal_app

    world = await seed(db, settings)
    await grant_kyc(db, world.users["C"])  # the attacker passes every gate too
    objects = await victim_objects(db, settings, world)
    app = portal_app(settings, db)
    routes = owned_routes(routes_of(app))
    assert len(routes) >= 10
    async with AsyncTestClient(app=app) as carol, AsyncTestClient(app=app) as alice:
        assert (await client_sign_in(carol, EMAILS["C"])).status_code == 303
        assert (await client_sign_in(alice, EMAILS["A"])).status_code == 303
        before = await snapshot(db)
        for route, kinds in routes:
            missing = set(kinds.values()) - objects.keys()
            assert not missing, f"{route}: seed the victim a {missing} in victim_objects()"
            url = route.url(**{param: objects[kind] for param, kind in kinds.items()})
            answer = await request(carol, route, url)
            assert answer.status_code in {403, 404}, f"Carol: {route.method} {url} -> {answer.status_code}"
        assert changed_tables(before, await snapshot(db)) == []
        assert sent_jobs == []
        # the same ids are real: Alice reads each of them (and her writes get past ownership)
        reads = [(r, k) for r, k in routes if r.method not in UNSAFE_METHODS]
        writes = [(r, k) for r, k in routes if r.method in UNSAFE_METHODS]
        for route, kinds in reads + writes:
            url = route.url(**{param: objects[kind] for param, kind in kinds.items()})
            answer = await request(alice, route, url)
            expected: Any = {200} if route.method not in UNSAFE_METHODS else set(range(200, 500)) - {403, 404}
            assert answer.status_code in expected, f"Alice: {route.method} {url} -> {answer.status_code}"


async def test_another_clients_ids_in_a_form_or_body_are_refused(
    settings: Settings, db: Database, sent_jobs: list[jobs.Job]
) -> None:
    """Ids that travel in the form or the JSON body rather than the path: Alice's bank account as
    Carol's withdrawal destination, Alice's trading account as the source of Carol's transfer,
    Alice's sub-IB as the receiver of Carol's allocation. Carol has money and a network of her own."""
    from tests.apps import portal_app

    world = await seed(db, settings)
    await grant_kyc(db, world.users["C"])
    await fund_by_wire(
        db, EncryptedFileStore.from_settings(settings), world.users["C"], 900_00, key="carol-funds"
    )
    objects = await victim_objects(db, settings, world)
    app = portal_app(settings, db)
    async with AsyncTestClient(app=app) as carol:
        assert (await client_sign_in(carol, EMAILS["C"])).status_code == 303
        token = csrf_from((await carol.get("/funding/withdraw")).text)
        before = await snapshot(db)
        money = {"_csrf_token": token, "currency": "USD", "amount": "10.00"}
        answers = [
            await carol.post(
                "/funding/withdraw",
                data={**money, "destination": f"bank:{objects['bank_account']}", "idempotency_key": "c-w-1"},
            ),
            await carol.post(
                "/api/v1/cashier/withdrawals",
                json={"currency": "USD", "amount": "10.00", "destination": f"bank:{objects['bank_account']}"},
                headers={"x-csrftoken": token, "idempotency-key": "carol-api-withdrawal"},
            ),
            await carol.post(
                "/funding/transfer",
                data={
                    **money,
                    "from": f"account:{objects['trading_account']}",
                    "to": "wallet",
                    "idempotency_key": "c-t-1",
                },
            ),
            await carol.post(
                "/funding/transfer",
                data={
                    **money,
                    "from": "wallet",
                    "to": f"account:{objects['trading_account']}",
                    "idempotency_key": "c-t-2",
                },
            ),
            await carol.post(
                "/ib/allocations",
                data={"_csrf_token": token, "sub_ib": world.partner("B"), "rule": "fixed", "amount": "1.00"},
            ),
            await carol.post(
                "/api/v1/ib/allocations",
                json={"sub_ib": world.partner("B"), "rule": "fixed", "amount": "1.00"},
                headers={"x-csrftoken": token},
            ),
        ]
        for answer in answers:  # refused: a 4xx, or the form again with its error
            assert answer.status_code < 500, f"{answer.request.url} -> {answer.status_code}"
            assert answer.status_code >= 400 or "error" in answer.text, answer.request.url
    assert changed_tables(before, await snapshot(db)) == []
    assert sent_jobs == []
