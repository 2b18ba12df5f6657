"""The risk rules: plain functions over a time window that return findings, and write nothing.

Each rule reads the rows that appeared (or changed) in ``[window.since, window.until)`` and says
what looks wrong. A finding's ``(rule, subject, dedup_key)`` is what makes its alert unique, so
the runner may hand a rule overlapping windows without raising anything twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.models import Deposit, DepositStatus, DestinationKind, Withdrawal, WithdrawalStatus
from cashier.usd import usd_equivalent
from core.clock import as_utc
from core.identity.models import CLIENT, LoginSession, User
from core.money import format_amount
from ib.models import ClientLink
from kyc.models import DocumentKind, KycDocument, KycProfileVersion
from ledger.errors import UnknownCurrencyError
from ledger.fx import currency_scales
from mt_bridge.models import MirroredDeal, TradingAccount
from mt_bridge.records import DealAction, DealEntry
from risk.config import RiskConfig

AML_DEPOSIT_WITHDRAWAL = "aml_deposit_withdrawal"
SHARED_IP = "shared_ip"
SHARED_DEVICE = "shared_device"
DUPLICATE_IDENTITY = "duplicate_identity"
SHORT_HOLD_IB = "short_hold_ib"
LARGE_DEPOSIT = "large_deposit"
LARGE_WITHDRAWAL = "large_withdrawal"
WITHDRAWAL_METHOD_MISMATCH = "withdrawal_method_mismatch"

RULE_LABELS: dict[str, str] = {
    AML_DEPOSIT_WITHDRAWAL: "Deposit then withdrawal without trading",
    SHARED_IP: "Many clients from one IP",
    SHARED_DEVICE: "Many clients on one device",
    DUPLICATE_IDENTITY: "Duplicate identity document",
    SHORT_HOLD_IB: "Short trades on an IB-attributed account",
    LARGE_DEPOSIT: "Large deposit",
    LARGE_WITHDRAWAL: "Large withdrawal",
    WITHDRAWAL_METHOD_MISMATCH: "Withdrawal to a method not used for depositing",
}
"""Rule id -> English msgid of its name, translated where it is shown."""

TRADES = (int(DealAction.BUY), int(DealAction.SELL))
OPENING = (int(DealEntry.IN), int(DealEntry.INOUT))
CLOSING = (int(DealEntry.OUT), int(DealEntry.INOUT), int(DealEntry.OUT_BY))
IDENTITY_DOCUMENTS = (DocumentKind.PASSPORT, DocumentKind.NATIONAL_ID, DocumentKind.DRIVING_LICENCE)
NOT_COUNTED_WITHDRAWALS = (WithdrawalStatus.CANCELLED,)
"""A withdrawal the client cancelled is no attempt to take money out; a rejected one still is."""
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """The rows a run looks at: from ``since`` (inclusive) to ``until`` (exclusive)."""

    since: datetime
    until: datetime


@dataclass(frozen=True)
class Finding:
    """Something a rule saw; the runner turns it into an alert unless one with its key exists."""

    rule: str
    subject: str
    dedup_key: str
    summary: str
    """An English msgid with ``%(name)s`` placeholders, translated where it is shown."""
    client_ids: tuple[int, ...]
    summary_args: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    window_start: datetime | None = None
    window_end: datetime | None = None

    @property
    def client_id(self) -> int | None:
        return self.client_ids[0] if len(self.client_ids) == 1 else None


Rule = Callable[[AsyncSession, Window, RiskConfig], Awaitable[list[Finding]]]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat()


def _cluster_key(client_ids: Iterable[int]) -> str:
    """One key per set of clients: a rerun finds the same set; a cluster that grows is news."""
    ids = ",".join(str(item) for item in sorted(set(client_ids)))
    return "clients:" + hashlib.sha256(ids.encode()).hexdigest()[:32]


async def _amount_text(session: AsyncSession, amount: int, currency: str) -> str:
    try:
        scale = (await currency_scales(session, currency))[currency]
    except UnknownCurrencyError:
        scale = 2
    return f"{format_amount(amount, scale)} {currency}"


async def _usd(session: AsyncSession, amount: int, currency: str) -> int:
    """USD cents at the latest rate; a currency the ledger does not know counts at par, so a rule
    errs towards raising rather than failing (and stalling its watermark) on it."""
    try:
        return await usd_equivalent(session, amount, currency)
    except UnknownCurrencyError:
        return amount


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount_minor": amount, "currency": currency}


# --- AML: deposit then withdrawal with little or no trading ---------------------------------------


async def lots_opened(session: AsyncSession, client_id: int, since: datetime, until: datetime) -> Decimal:
    """Lots the client opened (IN and reversing INOUT trade deals) on live accounts in [since, until]."""
    volumes = await session.scalars(
        select(MirroredDeal.volume)
        .join(
            TradingAccount,
            and_(
                TradingAccount.server_id == MirroredDeal.server_id, TradingAccount.login == MirroredDeal.login
            ),
        )
        .where(
            TradingAccount.client_id == client_id,
            TradingAccount.is_demo.is_(False),
            MirroredDeal.deleted.is_(False),
            MirroredDeal.action.in_(TRADES),
            MirroredDeal.entry.in_(OPENING),
            MirroredDeal.time >= since,
            MirroredDeal.time <= until,
        )
    )
    return sum(volumes, Decimal(0))


def _counted_withdrawals(window: Window) -> Any:
    return select(Withdrawal).where(
        Withdrawal.created_at >= window.since,
        Withdrawal.created_at < window.until,
        Withdrawal.status.not_in(NOT_COUNTED_WITHDRAWALS),
    )


async def aml_deposit_withdrawal(session: AsyncSession, window: Window, config: RiskConfig) -> list[Finding]:
    """A withdrawal requested within ``aml_window_hours`` of a credited deposit, with fewer than
    ``aml_min_lots_centi`` hundredths of a lot opened since the first such deposit."""
    findings = []
    lookback = timedelta(hours=config.aml_window_hours)
    minimum = Decimal(config.aml_min_lots_centi) / 100
    for withdrawal in (await session.scalars(_counted_withdrawals(window).order_by(Withdrawal.id))).all():
        if await _usd(session, withdrawal.amount, withdrawal.currency) < config.aml_min_withdrawal_usd_minor:
            continue
        asked_at = withdrawal.created_at
        deposits = (
            await session.scalars(
                select(Deposit)
                .where(
                    Deposit.client_id == withdrawal.client_id,
                    Deposit.status == DepositStatus.CREDITED,
                    Deposit.created_at >= asked_at - lookback,
                    Deposit.created_at <= asked_at,
                )
                .order_by(Deposit.created_at, Deposit.id)
            )
        ).all()
        if not deposits:
            continue
        first = deposits[0].created_at
        lots = await lots_opened(session, withdrawal.client_id, first, asked_at)
        if lots >= minimum:
            continue
        findings.append(
            Finding(
                rule=AML_DEPOSIT_WITHDRAWAL,
                subject=f"client:{withdrawal.client_id}",
                dedup_key=f"withdrawal:{withdrawal.id}",
                summary="Withdrawal #%(id)s of %(amount)s within %(hours)s h of a deposit; "
                "%(lots)s lots traded",
                summary_args={
                    "id": withdrawal.id,
                    "amount": await _amount_text(session, withdrawal.amount, withdrawal.currency),
                    "hours": config.aml_window_hours,
                    "lots": str(lots),
                },
                client_ids=(withdrawal.client_id,),
                evidence={
                    "withdrawal": {
                        "id": withdrawal.id,
                        **_money(withdrawal.amount, withdrawal.currency),
                        "status": withdrawal.status,
                        "created_at": _iso(asked_at),
                    },
                    "deposits": [
                        {
                            "id": deposit.id,
                            **_money(deposit.credited_amount or deposit.amount, deposit.currency),
                            "method": deposit.method,
                            "created_at": _iso(deposit.created_at),
                        }
                        for deposit in deposits
                    ],
                    "lots_traded": str(lots),
                    "min_lots": str(minimum),
                },
                window_start=first,
                window_end=asked_at,
            )
        )
    return findings


# --- Many clients from one IP or one device ---------------------------------------------------------


async def _shared_sign_ins(
    session: AsyncSession,
    window: Window,
    config: RiskConfig,
    column: Any,
    *,
    rule: str,
    prefix: str,
    minimum: int,
    summary: str,
) -> list[Finding]:
    client_sessions = (
        select(column)
        .join(User, User.id == LoginSession.user_id)
        .where(User.kind == CLIENT, column.is_not(None), column != "")
    )
    values = (
        await session.scalars(
            client_sessions.where(
                LoginSession.created_at >= window.since, LoginSession.created_at < window.until
            )
            .distinct()
            .order_by(column)
        )
    ).all()
    lookback_from = window.until - timedelta(days=config.shared_lookback_days)
    findings = []
    for value in values:
        rows = (
            await session.execute(
                select(
                    LoginSession.user_id,
                    func.count(),
                    func.min(LoginSession.created_at),
                    func.max(LoginSession.created_at),
                )
                .join(User, User.id == LoginSession.user_id)
                .where(
                    User.kind == CLIENT,
                    column == value,
                    LoginSession.created_at >= lookback_from,
                    LoginSession.created_at < window.until,
                )
                .group_by(LoginSession.user_id)
                .order_by(LoginSession.user_id)
            )
        ).all()
        if len(rows) < minimum:
            continue
        client_ids = tuple(int(row[0]) for row in rows)
        findings.append(
            Finding(
                rule=rule,
                subject=f"{prefix}:{value}",
                dedup_key=_cluster_key(client_ids),
                summary=summary,
                summary_args={"count": len(client_ids)},
                client_ids=client_ids,
                evidence={
                    prefix: value,
                    "clients": [
                        {
                            "client_id": int(user_id),
                            "sign_ins": int(count),
                            "first": _iso(first),
                            "last": _iso(last),
                        }
                        for user_id, count, first, last in rows
                    ],
                    "lookback_days": config.shared_lookback_days,
                },
                window_start=lookback_from,
                window_end=window.until,
            )
        )
    return findings


async def shared_ip(session: AsyncSession, window: Window, config: RiskConfig) -> list[Finding]:
    """An IP that ``shared_ip_min_clients`` or more clients signed in from within the lookback."""
    return await _shared_sign_ins(
        session,
        window,
        config,
        LoginSession.ip,
        rule=SHARED_IP,
        prefix="ip",
        minimum=config.shared_ip_min_clients,
        summary="%(count)s clients signed in from one IP address",
    )


async def shared_device(session: AsyncSession, window: Window, config: RiskConfig) -> list[Finding]:
    """A device cookie that ``shared_device_min_clients`` or more clients signed in with."""
    return await _shared_sign_ins(
        session,
        window,
        config,
        LoginSession.device_hash,
        rule=SHARED_DEVICE,
        prefix="device",
        minimum=config.shared_device_min_clients,
        summary="%(count)s clients signed in on one device",
    )


# --- Duplicate identity documents ------------------------------------------------------------------


def _normalised_tin(column: Any) -> Any:
    return func.upper(func.replace(func.replace(func.trim(column), " ", ""), "-", ""))


async def duplicate_identity(session: AsyncSession, window: Window, config: RiskConfig) -> list[Finding]:
    """An identity document whose file (SHA-256 of its content) another client uploaded too, and a
    tax identification number (per tax residence) that another client's profile gives too."""
    findings = []
    hashes = (
        await session.scalars(
            select(KycDocument.sha256)
            .where(
                KycDocument.uploaded_at >= window.since,
                KycDocument.uploaded_at < window.until,
                KycDocument.kind.in_(IDENTITY_DOCUMENTS),
            )
            .distinct()
            .order_by(KycDocument.sha256)
        )
    ).all()
    for digest in hashes:
        documents = (
            await session.scalars(
                select(KycDocument)
                .where(KycDocument.sha256 == digest, KycDocument.kind.in_(IDENTITY_DOCUMENTS))
                .order_by(KycDocument.client_id, KycDocument.id)
            )
        ).all()
        client_ids = tuple(sorted({document.client_id for document in documents}))
        if len(client_ids) < 2:
            continue
        findings.append(
            Finding(
                rule=DUPLICATE_IDENTITY,
                subject=f"document:{digest[:32]}",
                dedup_key=_cluster_key(client_ids),
                summary="One identity document file uploaded by %(count)s clients",
                summary_args={"count": len(client_ids)},
                client_ids=client_ids,
                evidence={
                    "match": "file_sha256",
                    "sha256": digest,
                    "documents": [
                        {
                            "document_id": document.id,
                            "client_id": document.client_id,
                            "kind": document.kind.value,
                            "uploaded_at": _iso(document.uploaded_at),
                        }
                        for document in documents
                    ],
                },
            )
        )
    numbers = (
        await session.execute(
            select(KycProfileVersion.tax_residence, _normalised_tin(KycProfileVersion.tin))
            .where(
                KycProfileVersion.created_at >= window.since,
                KycProfileVersion.created_at < window.until,
                func.length(func.trim(KycProfileVersion.tin)) > 0,
            )
            .distinct()
        )
    ).all()
    for country, tin in sorted(numbers):
        profiles = (
            await session.execute(
                select(KycProfileVersion.client_id, func.max(KycProfileVersion.version))
                .where(
                    KycProfileVersion.tax_residence == country, _normalised_tin(KycProfileVersion.tin) == tin
                )
                .group_by(KycProfileVersion.client_id)
                .order_by(KycProfileVersion.client_id)
            )
        ).all()
        if len(profiles) < 2:
            continue
        client_ids = tuple(int(row[0]) for row in profiles)
        digest = hashlib.sha256(f"{country}:{tin}".encode()).hexdigest()[:32]
        findings.append(
            Finding(
                rule=DUPLICATE_IDENTITY,
                subject=f"tin:{digest}",
                dedup_key=_cluster_key(client_ids),
                summary="One tax identification number (%(country)s) given by %(count)s clients",
                summary_args={"country": country, "count": len(client_ids)},
                client_ids=client_ids,
                evidence={
                    "match": "tax_identification_number",
                    "tax_residence": country,
                    "tin_ending": str(tin)[-4:],
                    "clients": [
                        {"client_id": int(client_id), "profile_version": int(version)}
                        for client_id, version in profiles
                    ],
                },
            )
        )
    return findings


# --- Rebate gaming: short holds on IB-attributed accounts -----------------------------------------


@dataclass(frozen=True)
class _Close:
    ticket: int
    server_id: int
    login: int
    position_id: int
    symbol: str
    volume_closed: Decimal
    time: datetime


def _attributed(links: Sequence[ClientLink], moment: datetime) -> ClientLink | None:
    for link in links:
        if as_utc(link.valid_from) <= moment and (link.valid_to is None or moment < as_utc(link.valid_to)):
            return link
    return None


async def _closes(session: AsyncSession, *conditions: Any) -> list[tuple[int, _Close]]:
    rows = await session.execute(
        select(TradingAccount.client_id, MirroredDeal)
        .join(
            TradingAccount,
            and_(
                TradingAccount.server_id == MirroredDeal.server_id, TradingAccount.login == MirroredDeal.login
            ),
        )
        .where(
            TradingAccount.is_demo.is_(False),
            MirroredDeal.deleted.is_(False),
            MirroredDeal.action.in_(TRADES),
            MirroredDeal.entry.in_(CLOSING),
            *conditions,
        )
        .order_by(MirroredDeal.time, MirroredDeal.id)
    )
    return [
        (
            int(client_id),
            _Close(
                deal.ticket,
                deal.server_id,
                deal.login,
                deal.position_id,
                deal.symbol,
                deal.volume_closed,
                as_utc(deal.time),
            ),
        )
        for client_id, deal in rows
    ]


async def _opening_times(session: AsyncSession, closes: Sequence[_Close]) -> dict[tuple[int, int], datetime]:
    """(server, position) -> when its first IN deal happened."""
    wanted = {(close.server_id, close.position_id) for close in closes}
    found: dict[tuple[int, int], datetime] = {}
    for server_id in {server for server, _position in wanted}:
        positions = sorted(position for server, position in wanted if server == server_id)
        for start in range(0, len(positions), 500):
            rows = await session.execute(
                select(MirroredDeal.position_id, func.min(MirroredDeal.time))
                .where(
                    MirroredDeal.server_id == server_id,
                    MirroredDeal.position_id.in_(positions[start : start + 500]),
                    MirroredDeal.entry == int(DealEntry.IN),
                    MirroredDeal.action.in_(TRADES),
                    MirroredDeal.deleted.is_(False),
                )
                .group_by(MirroredDeal.position_id)
            )
            for position_id, opened in rows:
                found[(server_id, int(position_id))] = as_utc(opened)
    return found


async def short_hold_ib(session: AsyncSession, window: Window, config: RiskConfig) -> list[Finding]:
    """``short_trades_per_day`` or more positions closed within ``min_hold_seconds`` of opening,
    in one UTC day, by a client attributed to an IB when they closed (rebate gaming).

    The window is on the deals' sync time, so deals that reach us late are still looked at; each
    (client, day) touched is then judged on all of that day's deals.
    """
    touched = await _closes(
        session, MirroredDeal.synced_at >= window.since, MirroredDeal.synced_at < window.until
    )
    days = sorted({(client_id, close.time.date()) for client_id, close in touched})
    findings = []
    for client_id, day in days:
        links = (await session.scalars(select(ClientLink).where(ClientLink.client_id == client_id))).all()
        if not links:
            continue
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        closes = [
            close
            for owner, close in await _closes(
                session,
                TradingAccount.client_id == client_id,
                MirroredDeal.time >= start,
                MirroredDeal.time < start + DAY,
            )
            if owner == client_id
        ]
        opened = await _opening_times(session, closes)
        short = []
        partners: set[int] = set()
        for close in closes:
            link = _attributed(links, close.time)
            opened_at = opened.get((close.server_id, close.position_id))
            if link is None or opened_at is None:
                continue
            held = (close.time - opened_at).total_seconds()
            if held < config.min_hold_seconds:
                partners.add(link.partner_id)
                short.append(
                    {
                        "ticket": close.ticket,
                        "login": close.login,
                        "position_id": close.position_id,
                        "symbol": close.symbol,
                        "lots": str(close.volume_closed),
                        "opened_at": _iso(opened_at),
                        "closed_at": _iso(close.time),
                        "held_seconds": int(held),
                    }
                )
        if len(short) < config.short_trades_per_day:
            continue
        findings.append(
            Finding(
                rule=SHORT_HOLD_IB,
                subject=f"client:{client_id}",
                dedup_key=f"day:{day.isoformat()}",
                summary="%(count)s trades held under %(seconds)s s on %(day)s",
                summary_args={
                    "count": len(short),
                    "seconds": config.min_hold_seconds,
                    "day": day.isoformat(),
                },
                client_ids=(client_id,),
                evidence={
                    "day": day.isoformat(),
                    "partner_ids": sorted(partners),
                    "min_hold_seconds": config.min_hold_seconds,
                    "closed_trades": len(closes),
                    "short_trades": short,
                },
                window_start=start,
                window_end=start + DAY,
            )
        )
    return findings


# --- Large deposits and withdrawals ------------------------------------------------------------------


async def large_deposit(session: AsyncSession, window: Window, config: RiskConfig) -> list[Finding]:
    """A credited deposit worth at least ``large_deposit_usd_minor`` USD cents."""
    deposits = (
        await session.scalars(
            select(Deposit)
            .where(
                Deposit.status == DepositStatus.CREDITED,
                Deposit.updated_at >= window.since,
                Deposit.updated_at < window.until,
            )
            .order_by(Deposit.id)
        )
    ).all()
    findings = []
    for deposit in deposits:
        amount = deposit.credited_amount or deposit.amount
        usd = await _usd(session, amount, deposit.currency)
        if usd < config.large_deposit_usd_minor:
            continue
        findings.append(
            Finding(
                rule=LARGE_DEPOSIT,
                subject=f"client:{deposit.client_id}",
                dedup_key=f"deposit:{deposit.id}",
                summary="Deposit #%(id)s of %(amount)s",
                summary_args={
                    "id": deposit.id,
                    "amount": await _amount_text(session, amount, deposit.currency),
                },
                client_ids=(deposit.client_id,),
                evidence={
                    "deposit": {
                        "id": deposit.id,
                        **_money(amount, deposit.currency),
                        "method": deposit.method,
                        "psp": deposit.psp,
                        "created_at": _iso(deposit.created_at),
                    },
                    "usd_minor": usd,
                    "threshold_usd_minor": config.large_deposit_usd_minor,
                },
            )
        )
    return findings


async def large_withdrawal(session: AsyncSession, window: Window, config: RiskConfig) -> list[Finding]:
    """A withdrawal request worth at least ``large_withdrawal_usd_minor`` USD cents."""
    findings = []
    for withdrawal in (await session.scalars(_counted_withdrawals(window).order_by(Withdrawal.id))).all():
        usd = await _usd(session, withdrawal.amount, withdrawal.currency)
        if usd < config.large_withdrawal_usd_minor:
            continue
        findings.append(
            Finding(
                rule=LARGE_WITHDRAWAL,
                subject=f"client:{withdrawal.client_id}",
                dedup_key=f"withdrawal:{withdrawal.id}",
                summary="Withdrawal #%(id)s of %(amount)s",
                summary_args={
                    "id": withdrawal.id,
                    "amount": await _amount_text(session, withdrawal.amount, withdrawal.currency),
                },
                client_ids=(withdrawal.client_id,),
                evidence={
                    "withdrawal": {
                        "id": withdrawal.id,
                        **_money(withdrawal.amount, withdrawal.currency),
                        "status": withdrawal.status,
                        "destination": withdrawal.destination_kind,
                        "created_at": _iso(withdrawal.created_at),
                    },
                    "usd_minor": usd,
                    "threshold_usd_minor": config.large_withdrawal_usd_minor,
                },
            )
        )
    return findings


# --- Withdrawal to a method not used for depositing ------------------------------------------------


def withdrawal_method(withdrawal: Withdrawal) -> str:
    """The method a withdrawal pays out through, named as deposit methods are."""
    if withdrawal.destination_kind == DestinationKind.BANK_ACCOUNT:
        return "wire"
    return f"psp:{withdrawal.psp or ''}"


def deposit_method(method: str, psp: str | None) -> str:
    return "wire" if method == "wire" else f"psp:{psp or ''}"


async def withdrawal_method_mismatch(
    session: AsyncSession, window: Window, config: RiskConfig
) -> list[Finding]:
    """A withdrawal by bank transfer from a client who never deposited by wire, or to a PSP the
    client never deposited through (only credited deposits made before the request count)."""
    findings = []
    for withdrawal in (await session.scalars(_counted_withdrawals(window).order_by(Withdrawal.id))).all():
        used = (
            await session.execute(
                select(Deposit.method, Deposit.psp)
                .where(
                    Deposit.client_id == withdrawal.client_id,
                    Deposit.status == DepositStatus.CREDITED,
                    Deposit.created_at <= withdrawal.created_at,
                )
                .distinct()
            )
        ).all()
        methods = sorted({deposit_method(method, psp) for method, psp in used})
        wanted = withdrawal_method(withdrawal)
        if wanted in methods:
            continue
        findings.append(
            Finding(
                rule=WITHDRAWAL_METHOD_MISMATCH,
                subject=f"client:{withdrawal.client_id}",
                dedup_key=f"withdrawal:{withdrawal.id}",
                summary="Withdrawal #%(id)s by %(method)s; deposits by %(deposit_methods)s",
                summary_args={
                    "id": withdrawal.id,
                    "method": wanted,
                    "deposit_methods": ", ".join(methods) or "-",
                },
                client_ids=(withdrawal.client_id,),
                evidence={
                    "withdrawal": {
                        "id": withdrawal.id,
                        **_money(withdrawal.amount, withdrawal.currency),
                        "method": wanted,
                        "bank_account_id": withdrawal.bank_account_id,
                        "created_at": _iso(withdrawal.created_at),
                    },
                    "deposit_methods": methods,
                },
            )
        )
    return findings


RULES: dict[str, Rule] = {
    AML_DEPOSIT_WITHDRAWAL: aml_deposit_withdrawal,
    SHARED_IP: shared_ip,
    SHARED_DEVICE: shared_device,
    DUPLICATE_IDENTITY: duplicate_identity,
    SHORT_HOLD_IB: short_hold_ib,
    LARGE_DEPOSIT: large_deposit,
    LARGE_WITHDRAWAL: large_withdrawal,
    WITHDRAWAL_METHOD_MISMATCH: withdrawal_method_mismatch,
}
"""Every rule by id, in the order a run applies them."""
