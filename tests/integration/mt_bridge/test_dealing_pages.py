"""The back office's product catalogue through the real app: each page under its permission,
every change audited with before and after, bad input refused with a message and nothing written,
and the manager password sealed, never shown back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core.audit.models import AuditEvent
from core.audit.service import SYSTEM
from core.db import Database
from core.identity.roles import create_role
from core.secrets_box import SecretsBox
from core.settings import Settings
from mt_bridge.connect import manager_password_context
from mt_bridge.models import AccountType, SymbolGroup, TradingGroup, TradingServer, TradingSymbol
from tests.helpers import submit
from tests.integration.mt_bridge.web import signed_in_staff

pytestmark = pytest.mark.asyncio

PAGES = (
    "/products/servers",
    "/products/groups",
    "/products/account-types",
    "/products/symbol-groups",
    "/products/symbols",
    "/dealing/commands",
    "/dealing/reconciliation",
)
SERVER_FORM = {
    "name": "Live MT5",
    "platform": "mt5",
    "address": "https://127.0.0.1:4443",
    "manager_login": "1000",
    "manager_password": "Sealed-Manager-9!",
    "login_range_start": "700000",
    "time_offset_minutes": "120",
    "enabled": "on",
}


@pytest.fixture
async def dealer(settings: Settings, db: Database) -> AsyncIterator[AsyncTestClient]:
    async with signed_in_staff(settings, db, "dealer@staff.test", ["dealing"]) as client:
        yield client


async def audit_rows(db: Database, action: str) -> list[AuditEvent]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_each_page_opens_with_its_permission_and_is_refused_without(
    settings: Settings, db: Database, dealer: AsyncTestClient
) -> None:
    for path in (*PAGES, "/dealing/approvals"):
        page = await dealer.get(path)
        assert page.status_code == 200, path
    async with signed_in_staff(settings, db, "finance@staff.test", ["finance"]) as finance:
        for path in (*PAGES, "/dealing/approvals"):
            refused = await finance.get(path, follow_redirects=False)
            assert refused.status_code == 403, path
            assert "You do not have permission" in refused.text
    async with db.transaction() as session:
        await create_role(session, "approver", "approvals only", {"accounts.approve"}, SYSTEM)
    async with signed_in_staff(settings, db, "approver@staff.test", ["approver"]) as approver:
        assert (await approver.get("/dealing/approvals")).status_code == 200
        assert (await approver.get("/products/servers", follow_redirects=False)).status_code == 403


async def test_a_server_is_added_audited_and_its_password_sealed_never_shown(
    settings: Settings, db: Database, dealer: AsyncTestClient
) -> None:
    added = await submit(dealer, "/products/servers", "/products/servers", SERVER_FORM)
    assert added.status_code == 303, added.text
    async with db.session() as session:
        server = await session.scalar(select(TradingServer))
    assert server is not None
    assert (server.name, server.address, server.time_offset_minutes, server.login_range_start) == (
        "Live MT5", "https://127.0.0.1:4443", 120, 700000,
    )  # fmt: skip
    assert b"Sealed-Manager-9!" not in server.manager_password_sealed
    box = SecretsBox.from_settings(settings)
    assert (
        box.open(server.manager_password_sealed, manager_password_context(server.id)) == "Sealed-Manager-9!"
    )
    listing = await dealer.get("/products/servers")
    edit = await dealer.get(f"/products/servers/{server.id}")
    for page in (listing, edit):
        assert "Live MT5" in page.text
        assert "Sealed-Manager-9!" not in page.text
    [created] = await audit_rows(db, "dealing.server_created")
    assert created.actor_email == "dealer@staff.test"
    assert created.after is not None
    assert created.after["address"] == "https://127.0.0.1:4443"
    assert created.after["manager_password"] == "***"
    assert "Sealed-Manager-9!" not in str(created.after)

    # an edit without a password keeps the sealed one; the audit row has before and after
    changed = await submit(
        dealer,
        f"/products/servers/{server.id}",
        f"/products/servers/{server.id}",
        {
            **SERVER_FORM,
            "address": "https://127.0.0.1:4444",
            "manager_password": "",
            "time_offset_minutes": "180",
        },
    )
    assert changed.status_code == 303, changed.text
    async with db.session() as session:
        server = await session.get(TradingServer, server.id)
    assert server is not None
    assert (server.address, server.time_offset_minutes) == ("https://127.0.0.1:4444", 180)
    assert (
        box.open(server.manager_password_sealed, manager_password_context(server.id)) == "Sealed-Manager-9!"
    )
    [updated] = await audit_rows(db, "dealing.server_updated")
    assert updated.before is not None
    assert updated.after is not None
    assert (updated.before["address"], updated.after["address"]) == (
        "https://127.0.0.1:4443",
        "https://127.0.0.1:4444",
    )
    assert "manager_password" not in updated.after

    # a new password is sealed in place of the old one
    await submit(
        dealer,
        f"/products/servers/{server.id}",
        f"/products/servers/{server.id}",
        {**SERVER_FORM, "manager_password": "Second-Manager-8!"},
    )
    async with db.session() as session:
        server = await session.get(TradingServer, server.id)
    assert server is not None
    assert (
        box.open(server.manager_password_sealed, manager_password_context(server.id)) == "Second-Manager-8!"
    )


async def test_bad_server_input_is_refused_with_a_message_and_changes_nothing(
    db: Database, dealer: AsyncTestClient
) -> None:
    for change, message in (
        ({"address": "ftp://nowhere"}, "a server address is an http(s) URL"),
        ({"manager_login": "ten"}, "Manager login: &#39;ten&#39; is not a whole number"),
        ({"manager_password": ""}, "Manager password: enter a value"),
        ({"time_offset_minutes": "5000"}, "the time-zone offset lies within 14 hours of UTC"),
        ({"platform": "mt9"}, "Platform: choose one of the offered values"),
    ):
        refused = await submit(dealer, "/products/servers", "/products/servers", {**SERVER_FORM, **change})
        assert refused.status_code == 400, change
        assert message in refused.text, (change, refused.text[refused.text.find("flash-error") :][:300])
        assert "Sealed-Manager-9!" not in refused.text
    assert await count(db, TradingServer) == 0
    assert await audit_rows(db, "dealing.server_created") == []
    await submit(dealer, "/products/servers", "/products/servers", SERVER_FORM)
    twice = await submit(dealer, "/products/servers", "/products/servers", SERVER_FORM)
    assert twice.status_code == 400
    assert "a server named &#39;Live MT5&#39; exists already" in twice.text
    assert await count(db, TradingServer) == 1


async def test_groups_account_types_and_symbols_are_managed_with_audit_and_checks(
    db: Database, dealer: AsyncTestClient
) -> None:
    await submit(dealer, "/products/servers", "/products/servers", SERVER_FORM)
    async with db.session() as session:
        server_id = await session.scalar(select(TradingServer.id))
    group_form = {
        "server_id": str(server_id),
        "name": "real\\standard-usd",
        "currency": "usd",
        "currency_digits": "2",
        "leverage_min": "1",
        "leverage_max": "200",
    }
    assert (await submit(dealer, "/products/groups", "/products/groups", group_form)).status_code == 303
    refused = await submit(
        dealer, "/products/groups", "/products/groups", {**group_form, "name": "x", "leverage_min": "300"}
    )
    assert refused.status_code == 400
    assert "leverage range needs 1 &lt;= min &lt;= max" in refused.text
    async with db.session() as session:
        group = await session.scalar(select(TradingGroup))
    assert group is not None
    assert (group.currency, group.leverage_max) == ("USD", 200)

    type_form = {
        "code": "std",
        "name": "Standard",
        "group_id": str(group.id),
        "leverage_options": "50, 100, 200",
        "auto_leverage_max": "100",
        "min_deposit": "250.50",
        "needs_approval": "on",
        "enabled": "on",
    }
    too_high = await submit(
        dealer,
        "/products/account-types",
        "/products/account-types",
        {**type_form, "leverage_options": "100, 500"},
    )
    assert too_high.status_code == 400
    assert "leverage options must lie in the group&#39;s range 1..200" in too_high.text
    cents = await submit(
        dealer, "/products/account-types", "/products/account-types", {**type_form, "min_deposit": "1.005"}
    )
    assert cents.status_code == 400
    assert "Minimum deposit: this currency takes at most 2 decimal places" in cents.text
    demo_funds = await submit(
        dealer, "/products/account-types", "/products/account-types", {**type_form, "demo_deposit": "100"}
    )
    assert "only a demo account type gives demo funds" in demo_funds.text
    assert await count(db, AccountType) == 0
    created = await submit(dealer, "/products/account-types", "/products/account-types", type_form)
    assert created.status_code == 303, created.text
    async with db.session() as session:
        account_type = await session.scalar(select(AccountType))
    assert account_type is not None
    assert (account_type.leverage_options, account_type.auto_leverage_max, account_type.min_deposit) == (
        [50, 100, 200], 100, 25050,
    )  # fmt: skip
    assert (account_type.currency, account_type.needs_approval, account_type.is_demo) == ("USD", True, False)
    listing = await dealer.get("/products/account-types")
    assert "250.50" in listing.text
    assert "MT5" in listing.text
    assert "1:50, 1:100, 1:200" in listing.text
    edit_page = await dealer.get(f"/products/account-types/{account_type.id}")
    assert 'value="250.50"' in edit_page.text

    # the group can't shrink below what its account type offers
    shrink = await submit(
        dealer,
        f"/products/groups/{group.id}",
        f"/products/groups/{group.id}",
        {**group_form, "leverage_max": "100"},
    )
    assert shrink.status_code == 400
    assert "account type std offers leverage outside 1..100" in shrink.text
    edited = await submit(
        dealer,
        f"/products/account-types/{account_type.id}",
        f"/products/account-types/{account_type.id}",
        {**type_form, "name": "Standard Plus", "leverage_options": "100, 200", "needs_approval": ""},
    )
    assert edited.status_code == 303
    [updated] = await audit_rows(db, "dealing.account_type_updated")
    assert updated.before is not None
    assert updated.after is not None
    assert (updated.before["name"], updated.after["name"]) == ("Standard", "Standard Plus")
    assert (updated.before["needs_approval"], updated.after["needs_approval"]) == (True, False)
    assert updated.after["leverage_options"] == [100, 200]

    await submit(dealer, "/products/symbol-groups", "/products/symbol-groups", {"name": "Metals"})
    async with db.session() as session:
        metals = await session.scalar(select(SymbolGroup))
    assert metals is not None
    symbol_form = {
        "name": "XAUUSD",
        "symbol_group_id": str(metals.id),
        "contract_size": "100",
        "digits": "2",
        "aliases": "XAUUSD.m, GOLD",
    }
    assert (await submit(dealer, "/products/symbols", "/products/symbols", symbol_form)).status_code == 303
    clash = await submit(
        dealer, "/products/symbols", "/products/symbols", {**symbol_form, "name": "XAUEUR", "aliases": "GOLD"}
    )
    assert clash.status_code == 400
    assert "alias &#39;GOLD&#39; already names a symbol" in clash.text
    bad_size = await submit(
        dealer,
        "/products/symbols",
        "/products/symbols",
        {**symbol_form, "name": "XAGUSD", "aliases": "", "contract_size": "lots"},
    )
    assert "Contract size: &#39;lots&#39; is not a number" in bad_size.text
    async with db.session() as session:
        [symbol] = list(await session.scalars(select(TradingSymbol)))
    assert (symbol.contract_size, symbol.aliases, symbol.symbol_group_id) == (
        Decimal(100),
        ["XAUUSD.m", "GOLD"],
        metals.id,
    )
    # editing a symbol may keep its own aliases
    renamed = await submit(
        dealer,
        f"/products/symbols/{symbol.id}",
        f"/products/symbols/{symbol.id}",
        {**symbol_form, "contract_size": "50", "aliases": "XAUUSD.m"},
    )
    assert renamed.status_code == 303
    listing = await dealer.get("/products/symbols")
    assert "Metals" in listing.text
    assert "XAUUSD.m" in listing.text
    assert "GOLD" not in listing.text
    actions = {event.action for event in await audit_rows(db, "dealing.symbol_updated")}
    assert actions == {"dealing.symbol_updated"}
    assert len(await audit_rows(db, "dealing.group_created")) == 1
    assert len(await audit_rows(db, "dealing.symbol_group_created")) == 1
    assert len(await audit_rows(db, "dealing.symbol_created")) == 1


async def test_unknown_product_lists_and_items_are_404(dealer: AsyncTestClient) -> None:
    assert (await dealer.get("/products/planets")).status_code == 404
    assert (await dealer.get("/products/servers/999")).status_code == 404
