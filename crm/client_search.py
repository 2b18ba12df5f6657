"""The client list: one search box, filters, a stable order, totals and pages, and CSV rows.

Every query goes through :func:`crm.scope.visible_clients`, so a limited staff member's list,
search, export and segments hold only the clients they (or their team) own.

The search box takes words; a client matches when every word matches one of: email, display
name, KYC first or last name (any profile version, so a former name still finds them), phone,
client id, trading login, IB partner number (the IB's referred clients) or IB referral code. A
number (``12345``, ``+44 20 7946``) is looked for in ids, logins, IB numbers and phones only,
and a word of one or two letters (``Li``) matches a whole first or last name. On
PostgreSQL the ``ILIKE '%word%'`` matches use the trigram indexes of :data:`crm.models.SEARCH_INDEXES`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import GenerativeSelect

from analytics.errors import InvalidMetricFilterError
from analytics.filters import FIELDS as FIGURE_FIELDS
from analytics.filters import MetricFilter, metric_condition, parse_metric_filter
from cashier.history import rows_csv
from cashier.models import Deposit, DepositStatus
from core import clock
from core.identity.models import CLIENT, User
from crm.errors import InvalidFilterError
from crm.models import ClientOwner, ClientTag, Tag
from crm.scope import DataScope, visible_clients
from ib.models import ClientLink, ReferralLink
from kyc.models import CaseStatus, KycCase, KycProfileVersion, RiskLevel
from mt_bridge.models import TradingAccount

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
EXPORT_LIMIT = 50_000
MAX_TERMS = 5
MAX_QUERY = 200
MIN_SUBSTRING = 3
"""Shorter words (``Li``, ``Wu``) match a whole first or last name, not any part of a name."""
NO_CASE = "none"
UNASSIGNED = "none"
_CHUNK = 1000
_BIGINT_DIGITS = 18


_Ordered = TypeVar("_Ordered", bound=GenerativeSelect)


class Sort(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"


@dataclass(frozen=True)
class ClientFilter:
    """What the list shows; an empty field does not filter. Built from query parameters by
    :func:`parse_filter`, and turned back into them by :meth:`to_query` (segments store that)."""

    q: str = ""
    kyc: str = ""
    """A KYC case status, or ``none`` for clients who never started KYC."""
    risk: str = ""
    country: str = ""
    """ISO country of residence on the latest profile."""
    funded: str = ""
    """``yes``: at least one credited deposit; ``no``: none."""
    ib: int | None = None
    """IB partner number: clients attributed to that IB now."""
    tag: int | None = None
    owner: str = ""
    """A staff id, or ``none`` for unassigned clients."""
    churn: str = ""
    """The figures (:mod:`analytics.filters`): churn risk ``yes``/``no``, value tier, net deposits
    between ``net_min`` and ``net_max`` (report currency), at least ``inactive`` days inactive."""
    tier: str = ""
    net_min: str = ""
    net_max: str = ""
    inactive: int | None = None
    sort: Sort = Sort.NEWEST

    def to_query(self) -> str:
        """The filter as a query string, without defaults, in a fixed order."""
        pairs = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value in (None, "") or (spec.name == "sort" and value == Sort.NEWEST):
                continue
            pairs.append((spec.name, str(value)))
        return urlencode(pairs)

    @property
    def active(self) -> bool:
        return bool(self.to_query())

    @property
    def figures(self) -> MetricFilter:
        return MetricFilter(self.churn, self.tier, self.net_min, self.net_max, self.inactive)


FILTER_FIELDS = tuple(spec.name for spec in fields(ClientFilter))


def _int_field(name: str, raw: str, label: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > _BIGINT_DIGITS:
        raise InvalidFilterError(name, f"{label} must be a whole number")
    return int(raw)


def parse_filter(params: Mapping[str, str]) -> ClientFilter:
    """The filter from query parameters; raises :class:`InvalidFilterError` naming the bad field."""

    def raw(name: str) -> str:
        return " ".join(str(params.get(name) or "").split())

    q = raw("q")
    if len(q) > MAX_QUERY:
        raise InvalidFilterError("q", f"the search has at most {MAX_QUERY} characters")
    kyc = raw("kyc").lower()
    if kyc and kyc != NO_CASE and kyc not in {s.value for s in CaseStatus}:
        raise InvalidFilterError("kyc", f"unknown KYC status {kyc!r}")
    risk = raw("risk").lower()
    if risk and risk not in {r.value for r in RiskLevel}:
        raise InvalidFilterError("risk", f"unknown risk level {risk!r}: choose low, medium or high")
    country = raw("country").upper()
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        raise InvalidFilterError("country", "country is a two-letter ISO code")
    funded = raw("funded").lower()
    if funded not in {"", "yes", "no"}:
        raise InvalidFilterError("funded", "funded is yes or no")
    owner = raw("owner").lower()
    if owner and owner != UNASSIGNED:
        _int_field("owner", owner, "owner")
    sort = raw("sort").lower() or Sort.NEWEST.value
    if sort not in {s.value for s in Sort}:
        raise InvalidFilterError("sort", "sort is newest or oldest")
    try:
        figures = parse_metric_filter({name: raw(name) for name in FIGURE_FIELDS})
    except InvalidMetricFilterError as exc:
        raise InvalidFilterError(exc.field, str(exc)) from None
    return ClientFilter(
        q=q,
        kyc=kyc,
        risk=risk,
        country=country,
        funded=funded,
        ib=_int_field("ib", raw("ib"), "IB number"),
        tag=_int_field("tag", raw("tag"), "tag"),
        owner=owner,
        churn=figures.churn,
        tier=figures.tier,
        net_min=figures.net_min,
        net_max=figures.net_max,
        inactive=figures.inactive,
        sort=Sort(sort),
    )


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _term_matches(term: str) -> ColumnElement[bool]:
    """The client ids one search word finds, as ``users.id IN (… UNION …)``.

    A word is looked for only where it can be: one with ``@`` in the email; a number in the ids,
    logins, IB numbers and phones; anything else in emails, names and IB referral codes.
    """
    pattern = _like(term)
    profiles = KycProfileVersion
    email = select(User.id).where(User.email.ilike(pattern, escape="\\"))
    if "@" in term:
        return User.id.in_(email)
    phone = re.sub(r"[\s().-]", "", term)
    if re.fullmatch(r"\+?\d+", phone):
        branches: list[Select[Any]] = []
        if len(re.sub(r"\D", "", phone)) >= 3:
            branches.append(select(profiles.client_id).where(profiles.phone.ilike(_like(phone), escape="\\")))
        if term.isdigit() and len(term) <= _BIGINT_DIGITS:
            number = int(term)
            branches += [
                select(User.id).where(User.id == number),
                select(TradingAccount.client_id).where(TradingAccount.login == number),
                select(ClientLink.client_id).where(
                    ClientLink.partner_id == number, ClientLink.valid_to.is_(None)
                ),
            ]
        if branches:
            return User.id.in_(union(*branches))
    if len(term) < MIN_SUBSTRING:
        # Too short for the trigram indexes, and a substring of most names: a whole name only.
        word = term.lower()
        return User.id.in_(
            union(
                select(User.id).where(func.lower(User.display_name) == word),
                select(profiles.client_id).where(
                    or_(func.lower(profiles.first_name) == word, func.lower(profiles.last_name) == word)
                ),
            )
        )
    return User.id.in_(
        union(
            email,
            select(User.id).where(User.display_name.ilike(pattern, escape="\\")),
            select(profiles.client_id).where(
                or_(
                    profiles.first_name.ilike(pattern, escape="\\"),
                    profiles.last_name.ilike(pattern, escape="\\"),
                )
            ),
            select(ClientLink.client_id)
            .join(ReferralLink, ReferralLink.partner_id == ClientLink.partner_id)
            .where(func.lower(ReferralLink.code) == term.lower(), ClientLink.valid_to.is_(None)),
        )
    )


def search_terms(q: str) -> list[str]:
    """The words of the search box; a phone number typed with spaces (``+49 170 123``) is one word."""
    if re.fullmatch(r"\+?[\d\s().-]+", q) and len(re.sub(r"\D", "", q)) >= 3 and " " in q:
        return [re.sub(r"[\s().-]", "", q)]
    return q.split()[:MAX_TERMS]


def _latest_profile_in(country: str) -> ColumnElement[bool]:
    later = KycProfileVersion.__table__.alias("later")
    return exists(
        select(KycProfileVersion.id).where(
            KycProfileVersion.client_id == User.id,
            KycProfileVersion.country_of_residence == country,
            ~exists(
                select(later.c.id).where(
                    later.c.client_id == KycProfileVersion.client_id,
                    later.c.version > KycProfileVersion.version,
                )
            ),
        )
    )


def conditions(scope: DataScope, filters: ClientFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a filtered, scoped client list (on ``users``)."""
    where: list[ColumnElement[bool]] = [User.kind == CLIENT, visible_clients(scope, User.id.expression)]
    for term in search_terms(filters.q):
        where.append(_term_matches(term))
    if filters.kyc == NO_CASE:
        where.append(~exists(select(KycCase.client_id).where(KycCase.client_id == User.id)))
    elif filters.kyc:
        where.append(
            exists(
                select(KycCase.client_id).where(
                    KycCase.client_id == User.id, KycCase.status == CaseStatus(filters.kyc)
                )
            )
        )
    if filters.risk:
        risk = RiskLevel(filters.risk)
        where.append(
            exists(
                select(KycCase.client_id).where(
                    KycCase.client_id == User.id,
                    or_(
                        KycCase.risk_override == risk,
                        and_(KycCase.risk_override.is_(None), KycCase.risk_level == risk),
                    ),
                )
            )
        )
    if filters.country:
        where.append(_latest_profile_in(filters.country))
    if filters.funded:
        credited = exists(
            select(Deposit.id).where(Deposit.client_id == User.id, Deposit.status == DepositStatus.CREDITED)
        )
        where.append(credited if filters.funded == "yes" else ~credited)
    if filters.ib is not None:
        where.append(
            exists(
                select(ClientLink.id).where(
                    ClientLink.client_id == User.id,
                    ClientLink.partner_id == filters.ib,
                    ClientLink.valid_to.is_(None),
                )
            )
        )
    if filters.tag is not None:
        where.append(
            exists(
                select(ClientTag.client_id).where(
                    ClientTag.client_id == User.id, ClientTag.tag_id == filters.tag
                )
            )
        )
    if filters.owner == UNASSIGNED:
        where.append(~exists(select(ClientOwner.client_id).where(ClientOwner.client_id == User.id)))
    elif filters.owner:
        where.append(
            exists(
                select(ClientOwner.client_id).where(
                    ClientOwner.client_id == User.id, ClientOwner.owner_id == int(filters.owner)
                )
            )
        )
    figures = metric_condition(User.id, filters.figures, clock.utcnow())
    if figures is not None:
        where.append(figures)
    return where


@dataclass(frozen=True)
class ClientRow:
    """One line of the client list."""

    id: int
    email: str
    display_name: str
    first_name: str
    last_name: str
    country: str
    phone: str
    kyc_status: str
    risk: str
    funded: bool
    ib_partner_id: int | None
    owner_id: int | None
    owner_email: str
    tags: list[Tag] = field(default_factory=list)
    created_at: datetime | None = None

    @property
    def name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.display_name


@dataclass(frozen=True)
class ClientPage:
    rows: list[ClientRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_more(self) -> bool:
        return (self.page + 1) * self.per_page < self.total


def _ordered(statement: _Ordered, sort: Sort) -> _Ordered:
    if sort is Sort.OLDEST:
        return statement.order_by(User.created_at.asc(), User.id.asc())
    return statement.order_by(User.created_at.desc(), User.id.desc())


async def count_clients(session: AsyncSession, scope: DataScope, filters: ClientFilter) -> int:
    return int(await session.scalar(select(func.count(User.id)).where(*conditions(scope, filters))) or 0)


async def search_clients(
    session: AsyncSession,
    scope: DataScope,
    filters: ClientFilter,
    *,
    page: int = 0,
    per_page: int = PAGE_SIZE,
) -> ClientPage:
    """One page of the filtered list, newest (or oldest) first, with the total that matched.

    With search words the matches are found once and counted in the same query (a window count);
    without, the page walks the creation-order index and the total is a separate count.
    """
    per_page = max(1, min(per_page, MAX_PAGE_SIZE))
    page = max(0, page)
    where = conditions(scope, filters)
    if not search_terms(filters.q):
        total = await count_clients(session, scope, filters)
        users = list(
            await session.scalars(
                _ordered(select(User).where(*where), filters.sort).limit(per_page).offset(page * per_page)
            )
        )
        return ClientPage(await describe(session, users), total, page, per_page)
    rows = (
        await session.execute(
            _ordered(select(User, func.count().over().label("total")).where(*where), filters.sort)
            .limit(per_page)
            .offset(page * per_page)
        )
    ).all()
    users = [row[0] for row in rows]
    total = int(rows[0].total) if rows else (await count_clients(session, scope, filters) if page else 0)
    return ClientPage(await describe(session, users), total, page, per_page)


async def export_rows(session: AsyncSession, scope: DataScope, filters: ClientFilter) -> list[ClientRow]:
    """Every matching client (up to :data:`EXPORT_LIMIT`), in list order."""
    users = list(
        await session.scalars(
            _ordered(select(User).where(*conditions(scope, filters)), filters.sort).limit(EXPORT_LIMIT)
        )
    )
    return await describe(session, users)


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


async def latest_profiles(session: AsyncSession, client_ids: Sequence[int]) -> dict[int, KycProfileVersion]:
    found: dict[int, KycProfileVersion] = {}
    for chunk in _chunks(client_ids):
        newest = (
            select(KycProfileVersion.client_id, func.max(KycProfileVersion.version).label("version"))
            .where(KycProfileVersion.client_id.in_(chunk))
            .group_by(KycProfileVersion.client_id)
            .subquery()
        )
        rows = await session.scalars(
            select(KycProfileVersion).join(
                newest,
                and_(
                    KycProfileVersion.client_id == newest.c.client_id,
                    KycProfileVersion.version == newest.c.version,
                ),
            )
        )
        found.update({row.client_id: row for row in rows})
    return found


async def tags_of(session: AsyncSession, client_ids: Sequence[int]) -> dict[int, list[Tag]]:
    """Each client's tags, by name."""
    found: dict[int, list[Tag]] = {}
    for chunk in _chunks(client_ids):
        rows = await session.execute(
            select(ClientTag.client_id, Tag)
            .join(Tag, Tag.id == ClientTag.tag_id)
            .where(ClientTag.client_id.in_(chunk))
            .order_by(Tag.name)
        )
        for client_id, tag in rows:
            found.setdefault(client_id, []).append(tag)
    return found


async def describe(session: AsyncSession, users: Sequence[User]) -> list[ClientRow]:
    """The list's columns for these clients, fetched in a few batched queries."""
    ids = [user.id for user in users]
    profiles = await latest_profiles(session, ids)
    tags = await tags_of(session, ids)
    cases: dict[int, KycCase] = {}
    funded: set[int] = set()
    links: dict[int, int] = {}
    owners: dict[int, tuple[int, str]] = {}
    for chunk in _chunks(ids):
        cases.update(
            {
                case.client_id: case
                for case in await session.scalars(select(KycCase).where(KycCase.client_id.in_(chunk)))
            }
        )
        funded.update(
            await session.scalars(
                select(Deposit.client_id)
                .where(Deposit.client_id.in_(chunk), Deposit.status == DepositStatus.CREDITED)
                .distinct()
            )
        )
        link_rows = await session.execute(
            select(ClientLink.client_id, ClientLink.partner_id).where(
                ClientLink.client_id.in_(chunk), ClientLink.valid_to.is_(None)
            )
        )
        links.update({client_id: partner_id for client_id, partner_id in link_rows})
        owner_rows = await session.execute(
            select(ClientOwner.client_id, ClientOwner.owner_id, User.email)
            .join(User, User.id == ClientOwner.owner_id)
            .where(ClientOwner.client_id.in_(chunk))
        )
        owners.update({client_id: (owner_id, email) for client_id, owner_id, email in owner_rows})
    rows = []
    for user in users:
        profile = profiles.get(user.id)
        case = cases.get(user.id)
        owner = owners.get(user.id)
        rows.append(
            ClientRow(
                id=user.id,
                email=user.email,
                display_name=user.display_name,
                first_name=profile.first_name if profile else "",
                last_name=profile.last_name if profile else "",
                country=profile.country_of_residence if profile else "",
                phone=profile.phone if profile else "",
                kyc_status=case.status.value if case else NO_CASE,
                risk=case.effective_risk.value if case else "",
                funded=user.id in funded,
                ib_partner_id=links.get(user.id),
                owner_id=owner[0] if owner else None,
                owner_email=owner[1] if owner else "",
                tags=tags.get(user.id, []),
                created_at=user.created_at,
            )
        )
    return rows


CSV_HEADER = (
    "client_id",
    "email",
    "name",
    "phone",
    "country",
    "kyc_status",
    "risk",
    "funded",
    "ib_partner",
    "owner",
    "tags",
    "created_at",
)


def clients_csv(rows: Sequence[ClientRow]) -> str:
    return rows_csv(
        CSV_HEADER,
        [
            [
                row.id,
                row.email,
                row.name,
                row.phone,
                row.country,
                row.kyc_status,
                row.risk,
                "yes" if row.funded else "no",
                row.ib_partner_id,
                row.owner_email,
                ";".join(tag.name for tag in row.tags),
                row.created_at.isoformat() if row.created_at else "",
            ]
            for row in rows
        ],
    )
