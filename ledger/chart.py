"""The broker's chart of accounts: which accounts exist, which side they sit on, what they are for.

House accounts exist once per currency and are created by :func:`ensure_system_accounts`. Client
wallets, trading accounts and IB commission accounts exist once per owner and currency (so the
overdraft guard protects each client on its own, and reconciliation can compare one trading login
with its platform balance); they are opened with :func:`open_owner_account` when the owner first
needs one. Every opener is idempotent: calling it again returns the same account.

Sign convention: an asset or expense is debit-normal (a debit raises its balance), a liability or
income is credit-normal. The ledger itself only cares that debits equal credits per currency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.clock import utcnow
from ledger.errors import AccountNotFoundError, UnknownCurrencyError
from ledger.models import Currency
from ledger.storage import accounts_table, connection_of


class OwnerKind(StrEnum):
    HOUSE = "house"
    PSP = "psp"
    CLIENT = "client"
    TRADING_LOGIN = "trading_login"
    IB = "ib"


class Guard(StrEnum):
    """Which overdraft flag the account carries (enforced by the ``ck_accounts_overdraft`` CHECK)."""

    NONE = "none"
    DEBITS_MUST_NOT_EXCEED_CREDITS = "debits_must_not_exceed_credits"
    CREDITS_MUST_NOT_EXCEED_DEBITS = "credits_must_not_exceed_debits"


@dataclass(frozen=True, slots=True)
class Role:
    """One line of the chart: what the account is for, who owns it, how it behaves."""

    purpose: str
    owner_kind: OwnerKind
    normal_side: str
    guard: Guard
    description: str


class Purpose(StrEnum):
    PSP_CLEARING = "psp_clearing"
    BANK = "bank"
    WITHDRAWALS_IN_TRANSIT = "withdrawals_in_transit"
    CLIENT_WALLET = "client_wallet"
    TRADING_ACCOUNT = "trading_account"
    IB_COMMISSION_PAYABLE = "ib_commission_payable"
    IB_COMMISSION_EXPENSE = "ib_commission_expense"
    DEALING_PNL = "dealing_pnl"
    FEES_REVENUE = "fees_revenue"
    FX_LIQUIDITY = "fx_liquidity"
    FX_SPREAD_REVENUE = "fx_spread_revenue"
    SUSPENSE = "suspense"


NO_GUARD = Guard.NONE
CLIENT_GUARD = Guard.DEBITS_MUST_NOT_EXCEED_CREDITS

CHART: Mapping[Purpose, Role] = {
    role.purpose: role  # type: ignore[misc]
    for role in (
        Role(
            Purpose.PSP_CLEARING, OwnerKind.PSP, "debit", NO_GUARD,
            "Asset, one per PSP: money a payment provider has collected for us and not yet settled to"
            " the bank. A card deposit debits it; the PSP's settlement credits it. Its balance is what"
            " the PSP owes us, and reconciles against the PSP's own report.",
        ),
        Role(
            Purpose.BANK, OwnerKind.HOUSE, "debit", NO_GUARD,
            "Asset: the broker's client-money bank account. Settlements and wires debit it; payouts"
            " leaving the bank credit it. It reconciles against the bank statement.",
        ),
        Role(
            Purpose.WITHDRAWALS_IN_TRANSIT, OwnerKind.HOUSE, "credit", CLIENT_GUARD,
            "Liability: approved withdrawals sent to the PSP or bank but not yet confirmed paid. A"
            " withdrawal posts wallet -> in transit; the payout confirmation posts in transit -> bank."
            " It can never be paid out beyond what was sent, hence the guard.",
        ),
        Role(
            Purpose.CLIENT_WALLET, OwnerKind.CLIENT, "credit", CLIENT_GUARD,
            "Liability, one per client and currency: the client's money held by the broker outside"
            " any trading account. Must not go negative: a withdrawal or transfer out is refused"
            " rather than overdraw it.",
        ),
        Role(
            Purpose.TRADING_ACCOUNT, OwnerKind.TRADING_LOGIN, "credit", NO_GUARD,
            "Liability, one per MT login: the balance the broker owes on that trading account,"
            " mirroring the platform. No guard: a platform balance can go negative after a stop-out"
            " until negative-balance protection is posted, and the ledger must mirror it, not refuse."
            " Reconciled login by login against the platform.",
        ),
        Role(
            Purpose.IB_COMMISSION_PAYABLE, OwnerKind.IB, "credit", CLIENT_GUARD,
            "Liability, one per IB and currency: commission earned by the IB and not yet paid out to"
            " a wallet. A claw-back can't take it below zero.",
        ),
        Role(
            Purpose.IB_COMMISSION_EXPENSE, OwnerKind.HOUSE, "debit", NO_GUARD,
            "Expense: what IB commissions cost the house. Each commission line debits it and credits"
            " the IB's payable account.",
        ),
        Role(
            Purpose.DEALING_PNL, OwnerKind.HOUSE, "credit", NO_GUARD,
            "Income (or loss): the house's result as counterparty to client trades. A client's"
            " realised loss credits it, a client's profit debits it, so it may be negative.",
        ),
        Role(
            Purpose.FEES_REVENUE, OwnerKind.HOUSE, "credit", NO_GUARD,
            "Income: deposit, withdrawal, inactivity and other fees charged to clients.",
        ),
        Role(
            Purpose.FX_LIQUIDITY, OwnerKind.HOUSE, "credit", NO_GUARD,
            "Position, one per currency: the house's side of currency conversions. A conversion"
            " credits it with the currency the client sells and debits it with the currency the"
            " client buys, at the mid rate, so each currency balances on its own. Its balance is the"
            " house's open position from conversions (positive: long that currency), to be hedged.",
        ),
        Role(
            Purpose.FX_SPREAD_REVENUE, OwnerKind.HOUSE, "credit", NO_GUARD,
            "Income: the spread the house keeps on conversions, posted as its own transfer beside the"
            " legs so the rate and the margin stay visible separately.",
        ),
        Role(
            Purpose.SUSPENSE, OwnerKind.HOUSE, "credit", NO_GUARD,
            "Holding account for money that can't be attributed yet (a wire without a reference, a"
            " platform balance change that matches no request). Should trend to zero; reviewed daily.",
        ),
    )
}  # fmt: skip

HOUSE_PURPOSES: tuple[Purpose, ...] = tuple(
    p for p, role in CHART.items() if role.owner_kind is OwnerKind.HOUSE
)
HOUSE_OWNER_ID = ""
OPEN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SystemAccounts:
    """The ids of one currency's house accounts, plus one PSP clearing account per PSP."""

    currency: str
    house: Mapping[Purpose, int]
    psp_clearing: Mapping[str, int]

    def __getitem__(self, purpose: Purpose) -> int:
        return self.house[purpose]


async def _require_currency(connection: AsyncConnection, currency: str) -> None:
    found = await connection.scalar(select(Currency.code).where(Currency.code == currency))
    if found is None:
        raise UnknownCurrencyError(f"unknown currency {currency!r}")


async def _open(connection: AsyncConnection, role: Role, owner_id: str, currency: str) -> int:
    """The account's id, inserting it first only when it is missing: accounts are opened once and
    looked up on every request after, and an ``INSERT … ON CONFLICT DO NOTHING`` of a row that
    exists still costs a round trip and a sequence number."""
    found = await _find(connection, role, owner_id, currency)
    if found is not None:
        return found
    values = {
        "currency": currency,
        "owner_kind": str(role.owner_kind),
        "owner_id": owner_id,
        "purpose": str(role.purpose),
        "normal_side": role.normal_side,
        "debits_must_not_exceed_credits": role.guard is Guard.DEBITS_MUST_NOT_EXCEED_CREDITS,
        "credits_must_not_exceed_debits": role.guard is Guard.CREDITS_MUST_NOT_EXCEED_DEBITS,
        "created_at": utcnow(),
    }
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    await connection.execute(dialect_insert(accounts_table).values(**values).on_conflict_do_nothing())
    account_id = await _find(connection, role, owner_id, currency)
    assert account_id is not None
    return account_id


async def _find(connection: AsyncConnection, role: Role, owner_id: str, currency: str) -> int | None:
    table = accounts_table
    return await connection.scalar(
        select(table.c.id).where(
            table.c.owner_kind == str(role.owner_kind),
            table.c.owner_id == owner_id,
            table.c.purpose == str(role.purpose),
            table.c.currency == currency,
        )
    )


async def ensure_system_accounts(
    connection: AsyncConnection | AsyncSession, currency: str, *, psps: Sequence[str] = ()
) -> SystemAccounts:
    """Create (or find) every house account of ``currency`` and a clearing account per PSP."""
    conn = await connection_of(connection)
    await _require_currency(conn, currency)
    existing = await _existing_system_accounts(conn, currency, psps)

    async def account(purpose: Purpose, owner_id: str) -> int:
        found = existing.get((str(purpose), owner_id))
        return found if found is not None else await _open(conn, CHART[purpose], owner_id, currency)

    house = {purpose: await account(purpose, HOUSE_OWNER_ID) for purpose in HOUSE_PURPOSES}
    clearing = {psp: await account(Purpose.PSP_CLEARING, psp) for psp in psps}
    return SystemAccounts(currency, house, clearing)


async def _existing_system_accounts(
    connection: AsyncConnection, currency: str, psps: Sequence[str]
) -> dict[tuple[str, str], int]:
    """The house and PSP clearing accounts of ``currency`` that exist, by (purpose, owner id), in
    one query: every deposit and payout asks for them."""
    table = accounts_table
    clearing = str(CHART[Purpose.PSP_CLEARING].owner_kind)
    rows = await connection.execute(
        select(table.c.purpose, table.c.owner_id, table.c.id).where(
            table.c.currency == currency,
            or_(
                (table.c.owner_kind == str(OwnerKind.HOUSE)) & (table.c.owner_id == HOUSE_OWNER_ID),
                (table.c.owner_kind == clearing)
                & (table.c.purpose == str(Purpose.PSP_CLEARING))
                & table.c.owner_id.in_(list(psps)),
            ),
        )
    )
    return {(row.purpose, row.owner_id): row.id for row in rows}


async def open_owner_account(
    connection: AsyncConnection | AsyncSession, purpose: Purpose, owner_id: str, currency: str
) -> int:
    """Open (or find) the account of ``purpose`` for one owner: a client, a login, an IB or a PSP."""
    role = CHART[purpose]
    if role.owner_kind is OwnerKind.HOUSE:
        raise ValueError(f"{purpose} is a house account; use ensure_system_accounts")
    if not owner_id:
        raise ValueError("an owner account needs an owner id")
    conn = await connection_of(connection)
    await _require_currency(conn, currency)
    return await _open(conn, role, owner_id, currency)


async def open_owner_accounts(
    connection: AsyncConnection | AsyncSession, purpose: Purpose, owner_ids: Sequence[str], currency: str
) -> dict[str, int]:
    """Open (or find) many owner accounts at once (an import, a migration): owner id -> account id."""
    role = CHART[purpose]
    if role.owner_kind is OwnerKind.HOUSE or not all(owner_ids):
        raise ValueError("owner accounts need a non-house purpose and non-empty owner ids")
    conn = await connection_of(connection)
    await _require_currency(conn, currency)
    now = utcnow()
    rows = [
        {
            "currency": currency,
            "owner_kind": str(role.owner_kind),
            "owner_id": owner_id,
            "purpose": str(role.purpose),
            "normal_side": role.normal_side,
            "debits_must_not_exceed_credits": role.guard is Guard.DEBITS_MUST_NOT_EXCEED_CREDITS,
            "credits_must_not_exceed_debits": role.guard is Guard.CREDITS_MUST_NOT_EXCEED_DEBITS,
            "created_at": now,
        }
        for owner_id in owner_ids
    ]
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    table = accounts_table
    found: dict[str, int] = {}
    for start in range(0, len(rows), OPEN_CHUNK):
        chunk = rows[start : start + OPEN_CHUNK]
        await conn.execute(dialect_insert(table).on_conflict_do_nothing(), chunk)
        result = await conn.execute(
            select(table.c.owner_id, table.c.id).where(
                table.c.owner_kind == str(role.owner_kind),
                table.c.purpose == str(role.purpose),
                table.c.currency == currency,
                table.c.owner_id.in_([row["owner_id"] for row in chunk]),
            )
        )
        found.update({owner: account_id for owner, account_id in result.all()})
    return found


async def find_account(
    connection: AsyncConnection | AsyncSession,
    purpose: Purpose,
    currency: str,
    owner_id: str = HOUSE_OWNER_ID,
) -> int:
    """The id of an existing account; raises :class:`AccountNotFoundError` when there is none."""
    conn = await connection_of(connection)
    account_id = await _find(conn, CHART[purpose], owner_id, currency)
    if account_id is None:
        raise AccountNotFoundError(f"no {purpose} account for {owner_id or 'the house'} in {currency}")
    return account_id
