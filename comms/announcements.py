"""Announcements: staff write them, the portal shows them to the clients they are meant for.

A client sees a published announcement while ``starts_at <= now < ends_at`` (no end: until it
is unpublished), when they are in its audience, in their language (English when it has no
Chinese text). A client marks one read once; staff see how many have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from comms.bilingual import parse_bilingual
from comms.errors import AnnouncementNotFoundError, InvalidAnnouncementError
from comms.models import Announcement, AnnouncementRead, AnnouncementStatus, Audience
from core import clock
from core.audit.service import Actor, record_audit
from ib.models import Partner
from kyc.countries import is_country
from kyc.profile import latest_profile
from mt_bridge.models import TradingAccount, TradingAccountStatus

AUDIT_TARGET = "announcement"
TITLE_LIMIT = 200
BODY_LIMIT = 10_000
HELD_STATUSES = (
    TradingAccountStatus.ACTIVE,
    TradingAccountStatus.OPENING,
    TradingAccountStatus.AWAITING_APPROVAL,
)
"""Account states that put a client in an account-type audience."""


@dataclass(frozen=True)
class AnnouncementInput:
    """A validated announcement form."""

    title_en: str
    body_en: str
    title_zh_hans: str
    body_zh_hans: str
    audience: Audience
    audience_values: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime | None


def _moment(raw: str, field: str, label: str) -> datetime | None:
    """``2026-12-01T09:30`` (a datetime-local field, read as UTC); empty is ``None``."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidAnnouncementError(field, f"{label}: use the form 2026-12-31T09:00 (UTC).") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_announcement(
    form: Mapping[str, str], account_type_ids: Sequence[int], now: datetime | None = None
) -> AnnouncementInput:
    """Check a submitted form; :class:`InvalidAnnouncementError` names the field at fault."""
    text = parse_bilingual(form, "title", TITLE_LIMIT, BODY_LIMIT, InvalidAnnouncementError)
    title_en, body_en, title_zh, body_zh = (
        text.heading_en,
        text.body_en,
        text.heading_zh_hans,
        text.body_zh_hans,
    )
    raw_audience = form.get("audience") or ""
    if raw_audience not in {a.value for a in Audience}:
        raise InvalidAnnouncementError("audience", "Audience: choose one of the listed audiences.")
    audience = Audience(raw_audience)
    values: tuple[str, ...] = ()
    if audience is Audience.COUNTRIES:
        codes = sorted(
            {
                c.strip().upper()
                for c in (form.get("countries") or "").replace(";", ",").split(",")
                if c.strip()
            }
        )
        unknown = [c for c in codes if not is_country(c)]
        if unknown:
            raise InvalidAnnouncementError("countries", f"Countries: unknown codes {', '.join(unknown)}.")
        if not codes:
            raise InvalidAnnouncementError("countries", "Countries: give at least one ISO code, such as GB.")
        values = tuple(codes)
    elif audience is Audience.ACCOUNT_TYPES:
        raw = [v for v in (form.get("account_types") or "").split(",") if v.strip()]
        if not raw or not all(v.strip().isdigit() and int(v) in account_type_ids for v in raw):
            raise InvalidAnnouncementError(
                "account_types", "Account types: choose at least one account type."
            )
        values = tuple(sorted({str(int(v)) for v in raw}, key=int))
    starts_at = _moment(form.get("starts_at", ""), "starts_at", "Starts at") or (now or clock.utcnow())
    ends_at = _moment(form.get("ends_at", ""), "ends_at", "Ends at")
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidAnnouncementError("ends_at", "Ends at: must be after the start.")
    return AnnouncementInput(title_en, body_en, title_zh, body_zh, audience, values, starts_at, ends_at)


def audit_view(row: Announcement) -> dict[str, Any]:
    return {
        "title_en": row.title_en,
        "body_en": row.body_en,
        "title_zh_hans": row.title_zh_hans,
        "body_zh_hans": row.body_zh_hans,
        "audience": row.audience,
        "audience_values": list(row.audience_values),
        "starts_at": _aware(row.starts_at).isoformat(),
        "ends_at": _aware(row.ends_at).isoformat() if row.ends_at else None,
        "status": row.status,
    }


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _apply(row: Announcement, data: AnnouncementInput) -> None:
    row.title_en, row.body_en = data.title_en, data.body_en
    row.title_zh_hans, row.body_zh_hans = data.title_zh_hans, data.body_zh_hans
    row.audience, row.audience_values = data.audience.value, list(data.audience_values)
    row.starts_at, row.ends_at = data.starts_at, data.ends_at


async def create_announcement(session: AsyncSession, data: AnnouncementInput, actor: Actor) -> Announcement:
    """A new draft; publishing is a separate, audited step."""
    now = clock.utcnow()
    row = Announcement(
        status=AnnouncementStatus.DRAFT.value, created_by=actor.id, created_at=now, updated_at=now
    )
    _apply(row, data)
    session.add(row)
    await session.flush()
    await record_audit(
        session,
        actor,
        "comms.announcement_created",
        target_type=AUDIT_TARGET,
        target_id=row.id,
        after=audit_view(row),
    )
    return row


async def _locked(session: AsyncSession, announcement_id: int) -> Announcement:
    row = await session.get(Announcement, announcement_id, with_for_update=True)
    if row is None:
        raise AnnouncementNotFoundError("No such announcement.")
    return row


async def update_announcement(
    session: AsyncSession, announcement_id: int, data: AnnouncementInput, actor: Actor
) -> Announcement:
    row = await _locked(session, announcement_id)
    before = audit_view(row)
    _apply(row, data)
    row.updated_at = clock.utcnow()
    await session.flush()
    await record_audit(
        session,
        actor,
        "comms.announcement_changed",
        target_type=AUDIT_TARGET,
        target_id=row.id,
        before=before,
        after=audit_view(row),
    )
    return row


async def set_status(
    session: AsyncSession, announcement_id: int, status: AnnouncementStatus, actor: Actor
) -> Announcement:
    """Publish or take back to draft; audited even when nothing changes hands."""
    row = await _locked(session, announcement_id)
    before = audit_view(row)
    row.status, row.updated_at = status.value, clock.utcnow()
    await session.flush()
    await record_audit(
        session,
        actor,
        "comms.announcement_published"
        if status is AnnouncementStatus.PUBLISHED
        else "comms.announcement_unpublished",
        target_type=AUDIT_TARGET,
        target_id=row.id,
        before=before,
        after=audit_view(row),
    )
    return row


@dataclass(frozen=True)
class StaffRow:
    """An announcement as the staff list shows it, with how many clients have read it."""

    announcement: Announcement
    reads: int


async def list_for_staff(session: AsyncSession, limit: int = 200) -> list[StaffRow]:
    counts = (
        select(AnnouncementRead.announcement_id, func.count().label("reads"))
        .group_by(AnnouncementRead.announcement_id)
        .subquery()
    )
    rows = await session.execute(
        select(Announcement, func.coalesce(counts.c.reads, 0))
        .outerjoin(counts, counts.c.announcement_id == Announcement.id)
        .order_by(Announcement.id.desc())
        .limit(limit)
    )
    return [StaffRow(announcement, int(reads)) for announcement, reads in rows.all()]


async def get_announcement(session: AsyncSession, announcement_id: int) -> Announcement:
    row = await session.get(Announcement, announcement_id)
    if row is None:
        raise AnnouncementNotFoundError("No such announcement.")
    return row


@dataclass(frozen=True)
class ClientContext:
    """What decides whether a client is in an audience."""

    country: str
    account_type_ids: frozenset[str]
    is_ib: bool


async def client_context(session: AsyncSession, client_id: int) -> ClientContext:
    profile = await latest_profile(session, client_id)
    types = await session.scalars(
        select(TradingAccount.account_type_id).where(
            TradingAccount.client_id == client_id,
            TradingAccount.status.in_(list(HELD_STATUSES)),
        )
    )
    partner = await session.scalar(
        select(Partner.id).where(Partner.client_id == client_id, Partner.status == "active")
    )
    return ClientContext(
        country=profile.country_of_residence if profile else "",
        account_type_ids=frozenset(str(t) for t in types),
        is_ib=partner is not None,
    )


def in_audience(row: Announcement, who: ClientContext) -> bool:
    audience = row.audience
    values = set(row.audience_values or [])
    if audience == Audience.ALL:
        return True
    if audience == Audience.COUNTRIES:
        return who.country in values
    if audience == Audience.ACCOUNT_TYPES:
        return bool(values & who.account_type_ids)
    if audience == Audience.IBS:
        return who.is_ib
    return False


@dataclass(frozen=True)
class ClientAnnouncement:
    """One announcement in the client's language, with when they read it."""

    id: int
    title: str
    body: str
    starts_at: datetime
    read_at: datetime | None


def localised(row: Announcement, language: str) -> tuple[str, str]:
    if language == "zh_Hans" and row.title_zh_hans:
        return row.title_zh_hans, row.body_zh_hans
    return row.title_en, row.body_en


async def published_rows(session: AsyncSession, now: datetime) -> list[Announcement]:
    """The published announcements that have not ended by ``now``, those yet to start included,
    newest first: what a page may keep for a few seconds and filter with :func:`in_window`."""
    rows = await session.scalars(
        select(Announcement)
        .where(
            Announcement.status == AnnouncementStatus.PUBLISHED.value,
            (Announcement.ends_at.is_(None)) | (Announcement.ends_at > now),
        )
        .order_by(Announcement.starts_at.desc(), Announcement.id.desc())
    )
    return list(rows)


def in_window(row: Announcement, now: datetime) -> bool:
    """Whether ``starts_at <= now < ends_at`` (no end: open)."""
    if clock.as_utc(row.starts_at) > now:
        return False
    return row.ends_at is None or clock.as_utc(row.ends_at) > now


async def visible_rows(
    session: AsyncSession,
    client_id: int,
    now: datetime,
    published: Sequence[Announcement] | None = None,
) -> list[Announcement]:
    """The published, current announcements whose audience holds the client. The client's
    country, account types and IB status (three queries) are read only when some announcement is
    aimed at an audience narrower than everyone: the portal's home page asks on every visit.

    ``published`` is what :func:`published_rows` answered a moment ago (the home page keeps it a
    few seconds); the window is checked against ``now`` either way."""
    if published is None:
        published = await published_rows(session, now)
    rows = [row for row in published if in_window(row, now)]
    if all(row.audience == Audience.ALL for row in rows):
        return rows
    who = await client_context(session, client_id)
    return [row for row in rows if in_audience(row, who)]


async def for_client(
    session: AsyncSession,
    client_id: int,
    language: str,
    now: datetime | None = None,
    published: Sequence[Announcement] | None = None,
) -> list[ClientAnnouncement]:
    """Everything this client should see now, newest first, with their read marks
    (``published``: see :func:`visible_rows`)."""
    rows = await visible_rows(session, client_id, now or clock.utcnow(), published)
    if not rows:
        return []
    reads = dict(
        (
            await session.execute(
                select(AnnouncementRead.announcement_id, AnnouncementRead.read_at).where(
                    AnnouncementRead.client_id == client_id,
                    AnnouncementRead.announcement_id.in_([row.id for row in rows]),
                )
            )
        ).all()
    )
    answer = []
    for row in rows:
        title, body = localised(row, language)
        answer.append(ClientAnnouncement(row.id, title, body, row.starts_at, reads.get(row.id)))
    return answer


async def mark_read(
    session: AsyncSession, announcement_id: int, client_id: int, now: datetime | None = None
) -> datetime:
    """Record the first read of an announcement the client can see now; a repeat keeps the first
    time. An announcement not shown to this client is "not found", whoever else it exists for."""
    moment = now or clock.utcnow()
    visible = {row.id for row in await visible_rows(session, client_id, moment)}
    if announcement_id not in visible:
        raise AnnouncementNotFoundError("No such announcement.")
    existing = await session.get(AnnouncementRead, (announcement_id, client_id))
    if existing is not None:
        return existing.read_at
    try:
        async with session.begin_nested():
            session.add(
                AnnouncementRead(announcement_id=announcement_id, client_id=client_id, read_at=moment)
            )
            await session.flush()
    except IntegrityError:  # a second tab marked it read at the same moment
        found = await session.get(AnnouncementRead, (announcement_id, client_id))
        assert found is not None
        return found.read_at
    return moment
