"""The product catalogue as the dealing screens see it: one :class:`Catalogue` per kind of product
(servers, groups, account types, symbol groups, symbols), each with its form fields, its table
columns and the :mod:`mt_bridge.products` services that add and change it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.dealing_forms import (
    BOOL,
    CHOICE,
    DECIMAL,
    INT,
    INT_LIST,
    MONEY,
    PASSWORD,
    TEXT_LIST,
    FormField,
    minor_units,
)
from cashier.money import format_amount
from core.db import Base
from core.secrets_box import SecretsBox
from mt_bridge import products
from mt_bridge.models import AccountType, SymbolGroup, TradingGroup, TradingServer, TradingSymbol


@dataclass(frozen=True)
class Names:
    """Names of the products others refer to, for the tables (a group's server, a type's group)."""

    servers: dict[int, TradingServer]
    groups: dict[int, TradingGroup]
    symbol_groups: dict[int, str]

    def group(self, group_id: int) -> str:
        group = self.groups.get(group_id)
        if group is None:
            return str(group_id)
        server = self.servers.get(group.server_id)
        return f"{server.name if server else group.server_id} / {group.name}"


async def load_names(session: AsyncSession) -> Names:
    servers = {s.id: s for s in await session.scalars(select(TradingServer))}
    groups = {g.id: g for g in await session.scalars(select(TradingGroup))}
    symbol_groups = {g.id: g.name for g in await session.scalars(select(SymbolGroup))}
    return Names(servers, groups, symbol_groups)


Column = tuple[str, Callable[[Any, Names], object]]
Create = Callable[[AsyncSession, SecretsBox, dict[str, Any]], Awaitable[Base]]
Update = Callable[[AsyncSession, SecretsBox, int, dict[str, Any]], Awaitable[Base]]


@dataclass(frozen=True)
class Catalogue:
    slug: str
    title: str
    noun: str
    """The audit action's stem: ``dealing.<noun>_created`` / ``_updated``."""
    model: type[Base]
    fields: tuple[FormField, ...]
    columns: tuple[Column, ...]
    create: Create
    update: Update
    order_by: Any = None
    shown: Callable[[Any, Names], dict[str, str]] = field(default=lambda _product, _names: {})
    """Values the edit form shows differently from the stored ones (money in currency units)."""


def without_box(add: Callable[..., Awaitable[Base]]) -> Create:
    """A product service that seals nothing, as a catalogue's ``create``."""
    return lambda session, _box, values: add(session, **values)


def by_id_without_box(change: Callable[..., Awaitable[Base]]) -> Update:
    """A product service that seals nothing, as a catalogue's ``update``."""
    return lambda session, _box, item_id, values: change(session, item_id, **values)


async def _platforms(_session: AsyncSession) -> list[tuple[str, str]]:
    return [(platform.value, platform.value.upper()) for platform in products.SERVER_PLATFORMS]


async def _servers(session: AsyncSession) -> list[tuple[str, str]]:
    return [
        (str(s.id), s.name) for s in await session.scalars(select(TradingServer).order_by(TradingServer.name))
    ]


async def _groups(session: AsyncSession) -> list[tuple[str, str]]:
    names = await load_names(session)
    return sorted(((str(g), names.group(g)) for g in names.groups), key=lambda pair: pair[1])


async def _symbol_groups(session: AsyncSession) -> list[tuple[str, str]]:
    return [
        (str(g.id), g.name) for g in await session.scalars(select(SymbolGroup).order_by(SymbolGroup.name))
    ]


def _yes(value: bool) -> str:
    return "yes" if value else "no"


# --- servers -------------------------------------------------------------------------------------

SERVER_FIELDS = (
    FormField("name", "Name"),
    FormField("platform", "Platform", CHOICE, editable=False, choices=_platforms),
    FormField("address", "Address", hint="https://mt5.example:443"),
    FormField("manager_login", "Manager login", INT),
    FormField(
        "manager_password",
        "Manager password",
        PASSWORD,
        hint="Stored encrypted and never shown again; leave empty to keep the current one.",
    ),
    FormField(
        "login_range_start",
        "First login",
        INT,
        editable=False,
        hint="Logins opened here are this plus a number.",
    ),
    FormField("time_offset_minutes", "Time-zone offset (minutes)", INT, default="0"),
    FormField("is_demo", "Demo server", BOOL, required=False),
    FormField("enabled", "Enabled", BOOL, required=False, default="on"),
)


SERVERS = Catalogue(
    slug="servers",
    title="Trading servers",
    noun="server",
    model=TradingServer,
    fields=SERVER_FIELDS,
    columns=(
        ("Name", lambda s, _n: s.name),
        ("Platform", lambda s, _n: s.platform.value.upper()),
        ("Address", lambda s, _n: s.address),
        ("Manager login", lambda s, _n: s.manager_login),
        ("First login", lambda s, _n: s.login_range_start),
        ("Time-zone offset (minutes)", lambda s, _n: s.time_offset_minutes),
        ("Demo server", lambda s, _n: _yes(s.is_demo)),
        ("Enabled", lambda s, _n: _yes(s.enabled)),
    ),
    create=lambda session, box, values: products.add_server(session, box, **values),
    update=lambda session, box, item_id, values: products.update_server(session, box, item_id, **values),
    order_by=TradingServer.name,
)

# --- groups --------------------------------------------------------------------------------------

GROUP_FIELDS = (
    FormField("server_id", "Server", CHOICE, editable=False, choices=_servers),
    FormField("name", "Group name on the server", hint="As the server spells it, e.g. real\\standard-usd"),
    FormField("currency", "Currency", default="USD"),
    FormField("currency_digits", "Currency decimal places", INT, default="2"),
    FormField("leverage_min", "Lowest leverage", INT, default="1"),
    FormField("leverage_max", "Highest leverage", INT, default="500"),
)


async def _add_group(session: AsyncSession, _box: SecretsBox, values: dict[str, Any]) -> Base:
    server_id = values.pop("server_id")
    return await products.add_group(session, server_id, **_upper_currency(values))


async def _update_group(
    session: AsyncSession, _box: SecretsBox, group_id: int, values: dict[str, Any]
) -> Base:
    return await products.update_group(session, group_id, **_upper_currency(values))


def _upper_currency(values: dict[str, Any]) -> dict[str, Any]:
    return {**values, "currency": str(values["currency"]).upper()}


GROUPS = Catalogue(
    slug="groups",
    title="Groups",
    noun="group",
    model=TradingGroup,
    fields=GROUP_FIELDS,
    columns=(
        ("Server", lambda g, n: n.servers[g.server_id].name if g.server_id in n.servers else g.server_id),
        ("Group name on the server", lambda g, _n: g.name),
        ("Currency", lambda g, _n: g.currency),
        ("Leverage", lambda g, _n: f"1:{g.leverage_min} to 1:{g.leverage_max}"),
    ),
    create=_add_group,
    update=_update_group,
    order_by=TradingGroup.id,
)

# --- account types -------------------------------------------------------------------------------

ACCOUNT_TYPE_FIELDS = (
    FormField("code", "Code"),
    FormField("name", "Name"),
    FormField(
        "group_id",
        "Server and group",
        CHOICE,
        choices=_groups,
        hint="The platform and currency come from it.",
    ),
    FormField("leverage_options", "Leverage options", INT_LIST, hint="Comma-separated, e.g. 50, 100, 200"),
    FormField(
        "auto_leverage_max",
        "Automatic leverage up to",
        INT,
        required=False,
        hint="Leverage changes above this wait for staff approval; empty: the highest option.",
    ),
    FormField("min_deposit", "Minimum deposit", MONEY, required=False, default="0"),
    FormField(
        "demo_deposit", "Demo funds", MONEY, required=False, default="0", hint="Demo account types only."
    ),
    FormField("is_demo", "Demo", BOOL, required=False),
    FormField("needs_approval", "Live accounts need staff approval", BOOL, required=False),
    FormField("enabled", "Offered to clients", BOOL, required=False, default="on"),
)


async def _money_in_group(session: AsyncSession, values: dict[str, Any]) -> dict[str, Any]:
    """Deposits typed in currency units, as minor units of the chosen group's currency."""
    group = await session.get(TradingGroup, values["group_id"])
    digits = group.currency_digits if group is not None else 2
    return {
        **values,
        "min_deposit": minor_units(values["min_deposit"], digits, "Minimum deposit"),
        "demo_deposit": minor_units(values["demo_deposit"], digits, "Demo funds"),
    }


async def _add_account_type(session: AsyncSession, _box: SecretsBox, values: dict[str, Any]) -> Base:
    return await products.add_account_type(session, **await _money_in_group(session, values))


async def _update_account_type(
    session: AsyncSession, _box: SecretsBox, type_id: int, values: dict[str, Any]
) -> Base:
    return await products.update_account_type(session, type_id, **await _money_in_group(session, values))


def _type_digits(account_type: AccountType, names: Names) -> int:
    group = names.groups.get(account_type.group_id)
    return group.currency_digits if group is not None else 2


def _type_platform(account_type: AccountType, names: Names) -> str:
    server = names.servers.get(account_type.server_id)
    return server.platform.value.upper() if server is not None else ""


ACCOUNT_TYPES = Catalogue(
    slug="account-types",
    title="Account types",
    noun="account_type",
    model=AccountType,
    fields=ACCOUNT_TYPE_FIELDS,
    columns=(
        ("Code", lambda t, _n: t.code),
        ("Name", lambda t, _n: t.name),
        ("Platform", _type_platform),
        ("Server and group", lambda t, n: n.group(t.group_id)),
        ("Currency", lambda t, _n: t.currency),
        ("Leverage options", lambda t, _n: ", ".join(f"1:{o}" for o in t.leverage_options)),
        ("Automatic leverage up to", lambda t, _n: f"1:{t.auto_leverage_max}"),
        ("Minimum deposit", lambda t, n: format_amount(t.min_deposit, _type_digits(t, n))),
        ("Demo funds", lambda t, n: format_amount(t.demo_deposit, _type_digits(t, n))),
        ("Demo", lambda t, _n: _yes(t.is_demo)),
        ("Live accounts need staff approval", lambda t, _n: _yes(t.needs_approval)),
        ("Offered to clients", lambda t, _n: _yes(t.enabled)),
    ),
    create=_add_account_type,
    update=_update_account_type,
    order_by=AccountType.code,
    shown=lambda t, n: {
        "min_deposit": format_amount(t.min_deposit, _type_digits(t, n)).replace(",", ""),
        "demo_deposit": format_amount(t.demo_deposit, _type_digits(t, n)).replace(",", ""),
    },
)

# --- symbols -------------------------------------------------------------------------------------

SYMBOL_GROUP_FIELDS = (
    FormField("name", "Name"),
    FormField("description", "Description", required=False),
)


SYMBOL_GROUPS = Catalogue(
    slug="symbol-groups",
    title="Symbol groups",
    noun="symbol_group",
    model=SymbolGroup,
    fields=SYMBOL_GROUP_FIELDS,
    columns=(("Name", lambda g, _n: g.name), ("Description", lambda g, _n: g.description)),
    create=without_box(products.add_symbol_group),
    update=by_id_without_box(products.update_symbol_group),
    order_by=SymbolGroup.name,
)

SYMBOL_FIELDS = (
    FormField("name", "Canonical name", hint="The name rules and reports use, e.g. XAUUSD"),
    FormField("symbol_group_id", "Symbol group", CHOICE, required=False, choices=_symbol_groups),
    FormField("contract_size", "Contract size", DECIMAL),
    FormField("digits", "Digits", INT),
    FormField(
        "aliases", "Aliases", TEXT_LIST, required=False, hint="Names servers use for it, e.g. XAUUSD.m"
    ),
)


SYMBOLS = Catalogue(
    slug="symbols",
    title="Symbols",
    noun="symbol",
    model=TradingSymbol,
    fields=SYMBOL_FIELDS,
    columns=(
        ("Canonical name", lambda s, _n: s.name),
        ("Symbol group", lambda s, n: n.symbol_groups.get(s.symbol_group_id, "")),
        ("Contract size", lambda s, _n: s.contract_size),
        ("Digits", lambda s, _n: s.digits),
        ("Aliases", lambda s, _n: ", ".join(s.aliases or ())),
    ),
    create=without_box(products.add_symbol),
    update=by_id_without_box(products.update_symbol),
    order_by=TradingSymbol.name,
)

CATALOGUES: dict[str, Catalogue] = {
    c.slug: c for c in (SERVERS, GROUPS, ACCOUNT_TYPES, SYMBOL_GROUPS, SYMBOLS)
}
