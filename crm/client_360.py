"""The client 360: everything staff know about one client, read for one page.

Profile and KYC (with documents), trading accounts with the balances the bridge mirrors, wallets
with their ledger balances, funding history, recent deals, the IB link and its upline, the
client's own referrals when they are an IB, owner and tags, and a timeline of every event. The
scope check comes first: a client outside the viewer's data scope is reported exactly like a
client that does not exist, so the page never confirms an id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.reading import ClientFigures, client_figures
from cashier.models import (
    OPEN_DEPOSIT_STATUSES,
    OPEN_WITHDRAWAL_STATUSES,
    BankAccount,
    BankAccountStatus,
    Deposit,
    InternalTransfer,
    TransferStatus,
    Withdrawal,
)
from cashier.wallets import Wallet, client_wallets
from core import clock
from core.audit.models import AuditEvent
from core.db import Database
from core.identity.models import CLIENT, LoginSession, User
from crm.client_search import tags_of
from crm.errors import ClientNotFoundError
from crm.models import ClientOwner, Tag
from crm.scope import DataScope, require_visible_client
from ib.hierarchy import upline_of
from ib.models import ClientLink, Partner, PartnerEdge, ReferralLink
from kyc.documents import client_documents
from kyc.models import KycCase, KycDecision, KycDocument, KycProfileVersion
from kyc.profile import latest_profile
from kyc.review import OPEN_STATUSES
from mt_bridge.models import MirroredDeal, TradingAccount, TradingAccountStatus

FUNDING_LIMIT = 20
DEALS_PER_PAGE = 20
TIMELINE_PER_PAGE = 25
REFERRALS_SHOWN = 20
MAX_PAGE = 1000
CLIENT_AUDIT_TARGETS = ("user", "kyc_case")
"""Audit targets whose id is the client's id."""


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC timestamps; everything here compares aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    id: int
    email: str


@dataclass(frozen=True)
class IbLink:
    """Who the client is attributed to now, and that IB's upline, nearest first."""

    partner_id: int
    partner: Person | None
    since: datetime
    source: str
    upline: list[tuple[int, Person | None]]


@dataclass(frozen=True)
class Referrals:
    """The client's own network when they are an IB."""

    partner_id: int
    status: str
    clients_total: int
    clients: list[tuple[Person, datetime]]
    sub_ibs: list[tuple[int, Person | None]]
    codes: list[str]


@dataclass
class Client360:
    user: User
    profile: KycProfileVersion | None
    case: KycCase | None
    documents: list[KycDocument]
    accounts: list[TradingAccount]
    wallets: list[Wallet]
    deposits: list[Deposit]
    withdrawals: list[Withdrawal]
    transfers: list[InternalTransfer]
    bank_accounts: list[BankAccount]
    owner: Person | None
    tags: list[Tag]
    ib: IbLink | None
    referrals: Referrals | None
    pending: list[PendingAction] = field(default_factory=list)
    figures: ClientFigures | None = None
    """The analytics figures as of their last recompute; ``None`` until the job has run."""


@dataclass(frozen=True)
class PendingAction:
    """Something waiting for staff, and which queue it waits in (the page links each one)."""

    queue: str
    """``kyc``, ``deposits``, ``withdrawals``, ``transfers``, ``accounts`` or ``bank_accounts``."""
    item_id: int
    status: str


async def require_client(session: AsyncSession, scope: DataScope, client_id: int) -> User:
    """The client, if it exists and the scope covers it; else :class:`ClientNotFoundError`."""
    user = await session.get(User, client_id)
    if user is None or user.kind != CLIENT:
        raise ClientNotFoundError(f"no client has id {client_id}")
    await require_visible_client(session, scope, client_id)
    return user


async def _people(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, Person]:
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(set(user_ids))))
    return {user_id: Person(user_id, email) for user_id, email in rows}


async def _partner_people(session: AsyncSession, partner_ids: Sequence[int]) -> dict[int, Person]:
    """The client behind each partner id."""
    if not partner_ids:
        return {}
    rows = await session.execute(
        select(Partner.id, Partner.client_id).where(Partner.id.in_(set(partner_ids)))
    )
    by_partner = {partner_id: client_id for partner_id, client_id in rows}
    people = await _people(session, list(by_partner.values()))
    return {pid: people[cid] for pid, cid in by_partner.items() if cid in people}


async def _ib_link(session: AsyncSession, client_id: int) -> IbLink | None:
    link = await session.scalar(
        select(ClientLink).where(ClientLink.client_id == client_id, ClientLink.valid_to.is_(None))
    )
    if link is None:
        return None
    upline = await upline_of(session, link.partner_id, clock.utcnow())
    people = await _partner_people(session, [link.partner_id, *upline])
    return IbLink(
        partner_id=link.partner_id,
        partner=people.get(link.partner_id),
        since=_utc(link.valid_from),
        source=link.source,
        upline=[(pid, people.get(pid)) for pid in upline],
    )


async def _referrals(session: AsyncSession, client_id: int) -> Referrals | None:
    partner = await session.scalar(select(Partner).where(Partner.client_id == client_id))
    if partner is None:
        return None
    current = (ClientLink.partner_id == partner.id, ClientLink.valid_to.is_(None))
    total = await session.scalar(select(func.count(ClientLink.id)).where(*current)) or 0
    recent = (
        await session.execute(
            select(ClientLink.client_id, ClientLink.valid_from)
            .where(*current)
            .order_by(ClientLink.valid_from.desc(), ClientLink.id.desc())
            .limit(REFERRALS_SHOWN)
        )
    ).all()
    people = await _people(session, [row.client_id for row in recent])
    sub_ids = list(
        await session.scalars(
            select(PartnerEdge.partner_id)
            .where(PartnerEdge.parent_id == partner.id, PartnerEdge.valid_to.is_(None))
            .order_by(PartnerEdge.partner_id)
        )
    )
    sub_people = await _partner_people(session, sub_ids)
    codes = list(
        await session.scalars(
            select(ReferralLink.code).where(ReferralLink.partner_id == partner.id).order_by(ReferralLink.id)
        )
    )
    return Referrals(
        partner_id=partner.id,
        status=partner.status,
        clients_total=int(total),
        clients=[(people[r.client_id], _utc(r.valid_from)) for r in recent if r.client_id in people],
        sub_ibs=[(pid, sub_people.get(pid)) for pid in sub_ids],
        codes=codes,
    )


def _pending(view: Client360) -> list[PendingAction]:
    pending = []
    if view.case is not None and view.case.status in OPEN_STATUSES:
        pending.append(PendingAction("kyc", view.user.id, view.case.status.value))
    pending += [
        PendingAction("deposits", d.id, d.status) for d in view.deposits if d.status in OPEN_DEPOSIT_STATUSES
    ]
    pending += [
        PendingAction("withdrawals", w.id, w.status)
        for w in view.withdrawals
        if w.status in OPEN_WITHDRAWAL_STATUSES
    ]
    pending += [
        PendingAction("transfers", t.id, t.status) for t in view.transfers if t.status == TransferStatus.SENT
    ]
    pending += [
        PendingAction("accounts", a.id, a.status.value)
        for a in view.accounts
        if a.status is TradingAccountStatus.AWAITING_APPROVAL
    ]
    pending += [
        PendingAction("bank_accounts", b.id, b.status)
        for b in view.bank_accounts
        if b.status == BankAccountStatus.UNVERIFIED
    ]
    return pending


def _newest(model: Any, client_id: int) -> Select[Any]:
    return (
        select(model)
        .where(model.client_id == client_id)
        .order_by(model.created_at.desc(), model.id.desc())
        .limit(FUNDING_LIMIT)
    )


async def load_client_360(db: Database, scope: DataScope, client_id: int) -> Client360:
    """The whole page's data; :class:`ClientNotFoundError` when missing or out of scope."""
    async with db.session() as session:
        user = await require_client(session, scope, client_id)

        owner_row = await session.get(ClientOwner, client_id)
        owner = (await _people(session, [owner_row.owner_id])).get(owner_row.owner_id) if owner_row else None
        view = Client360(
            user=user,
            profile=await latest_profile(session, client_id),
            case=await session.get(KycCase, client_id),
            documents=await client_documents(session, client_id),
            accounts=list(
                await session.scalars(
                    select(TradingAccount)
                    .where(TradingAccount.client_id == client_id)
                    .order_by(TradingAccount.id)
                )
            ),
            wallets=[],
            deposits=list(await session.scalars(_newest(Deposit, client_id))),
            withdrawals=list(await session.scalars(_newest(Withdrawal, client_id))),
            transfers=list(await session.scalars(_newest(InternalTransfer, client_id))),
            bank_accounts=list(
                await session.scalars(
                    select(BankAccount).where(BankAccount.client_id == client_id).order_by(BankAccount.id)
                )
            ),
            owner=owner,
            tags=(await tags_of(session, [client_id])).get(client_id, []),
            ib=await _ib_link(session, client_id),
            referrals=await _referrals(session, client_id),
            figures=await client_figures(session, client_id),
        )
    view.wallets = await client_wallets(db, client_id)
    view.pending = _pending(view)
    return view


@dataclass(frozen=True)
class DealPage:
    deals: list[MirroredDeal]
    page: int
    has_more: bool


async def client_deals(
    session: AsyncSession, client_id: int, page: int = 0, per_page: int = DEALS_PER_PAGE
) -> DealPage:
    """The client's mirrored deals on all their logins, newest first (call after the scope check)."""
    page = max(0, min(page, MAX_PAGE))
    logins = (
        await session.execute(
            select(TradingAccount.server_id, TradingAccount.login).where(
                TradingAccount.client_id == client_id, TradingAccount.login.is_not(None)
            )
        )
    ).all()
    if not logins:
        return DealPage([], page, False)
    rows = list(
        await session.scalars(
            select(MirroredDeal)
            .where(
                tuple_(MirroredDeal.server_id, MirroredDeal.login).in_([tuple(row) for row in logins]),
                MirroredDeal.deleted.is_(False),
            )
            .order_by(MirroredDeal.time.desc(), MirroredDeal.id.desc())
            .limit(per_page + 1)
            .offset(page * per_page)
        )
    )
    return DealPage(rows[:per_page], page, len(rows) > per_page)


@dataclass(frozen=True)
class TimelineEvent:
    """One thing that happened to the client. ``link`` names a queue or page for it, if any."""

    at: datetime
    kind: str
    """``audit``, ``deposit``, ``withdrawal``, ``transfer``, ``kyc`` or ``login``."""
    title: str
    detail: str = ""
    amount: int | None = None
    currency: str = ""
    item_id: int | None = None


@dataclass(frozen=True)
class TimelinePage:
    events: list[TimelineEvent]
    page: int
    has_more: bool


async def client_timeline(
    session: AsyncSession, client_id: int, page: int = 0, per_page: int = TIMELINE_PER_PAGE
) -> TimelinePage:
    """Audit events about or by the client, funding, KYC decisions and sign-ins, newest first.

    Each source is read newest first up to the end of the page, then merged; an offset page is
    therefore exact without reading any source in full.
    """
    page = max(0, min(page, MAX_PAGE))
    upto = (page + 1) * per_page + 1
    target = str(client_id)
    events: list[TimelineEvent] = []
    audits = await session.scalars(
        select(AuditEvent)
        .where(
            or_(
                and_(AuditEvent.target_type.in_(CLIENT_AUDIT_TARGETS), AuditEvent.target_id == target),
                and_(AuditEvent.actor_kind == CLIENT, AuditEvent.actor_id == client_id),
            )
        )
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(upto)
    )
    events += [
        TimelineEvent(_utc(e.occurred_at), "audit", e.action, e.actor_email or e.actor_kind) for e in audits
    ]
    funding: tuple[tuple[Any, str], ...] = ((Deposit, "deposit"), (Withdrawal, "withdrawal"))
    for model, kind in funding:
        rows = await session.scalars(
            select(model).where(model.client_id == client_id).order_by(model.created_at.desc()).limit(upto)
        )
        events += [
            TimelineEvent(
                _utc(row.created_at), kind, row.status, row.reason or "", row.amount, row.currency, row.id
            )
            for row in rows
        ]
    transfers = await session.scalars(
        select(InternalTransfer)
        .where(InternalTransfer.client_id == client_id)
        .order_by(InternalTransfer.created_at.desc())
        .limit(upto)
    )
    events += [
        TimelineEvent(
            _utc(t.created_at), "transfer", f"{t.kind} {t.status}", "", t.from_amount, t.from_currency, t.id
        )
        for t in transfers
    ]
    decisions = await session.scalars(
        select(KycDecision)
        .where(KycDecision.client_id == client_id)
        .order_by(KycDecision.created_at.desc(), KycDecision.id.desc())
        .limit(upto)
    )
    events += [
        TimelineEvent(_utc(d.created_at), "kyc", d.action, d.reason or (d.level or ""), item_id=client_id)
        for d in decisions
    ]
    logins = await session.scalars(
        select(LoginSession)
        .where(LoginSession.user_id == client_id)
        .order_by(LoginSession.created_at.desc())
        .limit(upto)
    )
    events += [
        TimelineEvent(_utc(s.created_at), "login", s.app, f"{s.ip} {s.user_agent}".strip()) for s in logins
    ]
    events.sort(key=lambda event: event.at, reverse=True)
    start = page * per_page
    return TimelinePage(events[start : start + per_page], page, len(events) > start + per_page)
