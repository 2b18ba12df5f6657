"""Campaigns: staff write a marketing mail for a saved segment, then send it now or schedule it.

A draft holds a subject and body per language (English required, Chinese optional), written in
the mail sandbox's template language and checked by rendering when saved. Sending starts by fixing
the recipients: the segment is resolved with the data scope of the staff member who created the
campaign, as opening the segment would, into one recipient row per client. A segment that holds
nobody is bad input: the send or schedule is refused and nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from comms.bilingual import parse_bilingual
from comms.campaign_links import RecipientLinks, literal_links
from comms.campaign_mail import EN, ZH, CampaignMail, RenderParts, compose, context_for
from comms.campaign_models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from comms.errors import (
    CampaignNotFoundError,
    CampaignStateError,
    EmptySegmentError,
    InvalidCampaignError,
)
from core import clock
from core.audit.service import Actor, record_audit
from core.errors import CoreError
from core.identity.models import User
from core.jobs import enqueue_after_commit
from crm.client_search import conditions, parse_filter
from crm.errors import CrmError
from crm.models import Segment
from crm.scope import data_scope_of
from crm.segments import open_segment

AUDIT_TARGET = "campaign"
NAME_LIMIT = 120
SUBJECT_LIMIT = 300
BODY_LIMIT = 50_000
DEFAULT_RATE = 60
MAX_RATE = 10_000
SAMPLE_NAME = "Sample Client"
SAMPLE_EMAIL = "sample.client@example.com"
EDITABLE = frozenset({CampaignStatus.DRAFT})


@dataclass(frozen=True)
class CampaignInput:
    """A validated campaign form."""

    name: str
    segment_id: int
    subject_en: str
    body_en: str
    subject_zh_hans: str
    body_zh_hans: str
    mails_per_minute: int


def _one_line(form: Mapping[str, str], name: str) -> str:
    return " ".join((form.get(name) or "").split())


def parse_campaign(form: Mapping[str, str], segment_ids: Sequence[int]) -> CampaignInput:
    """Check a submitted form (not yet the template: see :func:`check_templates`)."""
    name = _one_line(form, "name")
    if not name:
        raise InvalidCampaignError("name", "Name: required.")
    if len(name) > NAME_LIMIT:
        raise InvalidCampaignError("name", f"Name: at most {NAME_LIMIT} characters.")
    raw_segment = (form.get("segment_id") or "").strip()
    if not raw_segment.isdigit() or len(raw_segment) > 18 or int(raw_segment) not in segment_ids:
        raise InvalidCampaignError("segment_id", "Segment: choose one of your saved or shared segments.")
    text = parse_bilingual(form, "subject", SUBJECT_LIMIT, BODY_LIMIT, InvalidCampaignError)
    raw_rate = (form.get("mails_per_minute") or str(DEFAULT_RATE)).strip()
    if not raw_rate.isdigit() or not 1 <= int(raw_rate) <= MAX_RATE:
        raise InvalidCampaignError(
            "mails_per_minute", f"Mails per minute: a whole number from 1 to {MAX_RATE}."
        )
    return CampaignInput(
        name,
        int(raw_segment),
        text.heading_en,
        text.body_en,
        text.heading_zh_hans,
        text.body_zh_hans,
        int(raw_rate),
    )


def _draft_of(data: CampaignInput) -> Campaign:
    """An unsaved campaign holding the form, to preview or check."""
    now = clock.utcnow()
    return Campaign(
        name=data.name,
        segment_id=data.segment_id,
        subject_en=data.subject_en,
        body_en=data.body_en,
        subject_zh_hans=data.subject_zh_hans,
        body_zh_hans=data.body_zh_hans,
        mails_per_minute=data.mails_per_minute,
        links=literal_links(data.body_en, data.body_zh_hans),
        status=CampaignStatus.DRAFT,
        created_at=now,
        updated_at=now,
    )


def preview(
    campaign: Campaign,
    render: RenderParts,
    company: dict[str, str],
    base_url: str,
    secret_key: str,
) -> dict[str, CampaignMail]:
    """The mail as a sample client would get it in each language the campaign has; a template
    that does not render raises :class:`InvalidCampaignError` naming the field and line."""
    links = RecipientLinks(base_url, secret_key, 0)
    context = context_for(SAMPLE_NAME, SAMPLE_EMAIL, company)
    languages = [EN, ZH] if campaign.subject_zh_hans else [EN]
    shown = {}
    for language in languages:
        try:
            shown[language] = compose(campaign, render, links, language, context)
        except CoreError as exc:  # the sandbox's MailTemplateError: "text, line 3: 'x' is undefined"
            suffix = "_zh_hans" if language == ZH else "_en"
            part = str(exc).split(",", 1)[0].split(":", 1)[0]
            field = ("subject" if part == "subject" else "body") + suffix
            label = ("Chinese " if language == ZH else "English ") + (
                "subject" if part == "subject" else "text"
            )
            raise InvalidCampaignError(field, f"{label}: {exc}") from None
    return shown


def check_templates(data: CampaignInput, render: RenderParts, company: dict[str, str]) -> None:
    preview(_draft_of(data), render, company, "https://portal.example.com", "preview")


async def _audited(
    session: AsyncSession,
    actor: Actor,
    action: str,
    row: Campaign,
    before: dict[str, Any] | None,
    **extra: object,
) -> None:
    await record_audit(
        session,
        actor,
        action,
        target_type=AUDIT_TARGET,
        target_id=row.id,
        before=before,
        after={**audit_view(row), **extra},
    )


def audit_view(row: Campaign) -> dict[str, Any]:
    return {
        "name": row.name,
        "segment_id": row.segment_id,
        "subject_en": row.subject_en,
        "body_en": row.body_en,
        "subject_zh_hans": row.subject_zh_hans,
        "body_zh_hans": row.body_zh_hans,
        "mails_per_minute": row.mails_per_minute,
        "status": row.status,
        "send_at": row.send_at.isoformat() if row.send_at else None,
    }


async def list_campaigns(session: AsyncSession) -> Sequence[Campaign]:
    return (await session.scalars(select(Campaign).order_by(Campaign.id.desc()))).all()


async def get_campaign(session: AsyncSession, campaign_id: int, *, lock: bool = False) -> Campaign:
    row = await session.get(Campaign, campaign_id, with_for_update=lock)
    if row is None:
        raise CampaignNotFoundError(f"no campaign {campaign_id}")
    return row


async def create_campaign(session: AsyncSession, data: CampaignInput, actor: Actor) -> Campaign:
    row = _draft_of(data)
    row.created_by = actor.id
    session.add(row)
    await session.flush()
    await _audited(session, actor, "comms.campaign_created", row, None)
    return row


def require_editable(row: Campaign) -> None:
    if row.status not in EDITABLE:
        raise CampaignStateError(f"Only a draft can be edited; this campaign is {row.status}.")


async def update_campaign(
    session: AsyncSession, campaign_id: int, data: CampaignInput, actor: Actor
) -> Campaign:
    row = await get_campaign(session, campaign_id, lock=True)
    require_editable(row)
    before = audit_view(row)
    fresh = _draft_of(data)
    for name in ("name", "segment_id", "subject_en", "body_en", "subject_zh_hans", "body_zh_hans"):
        setattr(row, name, getattr(fresh, name))
    row.mails_per_minute, row.links, row.updated_at = fresh.mails_per_minute, fresh.links, clock.utcnow()
    await session.flush()
    await _audited(session, actor, "comms.campaign_updated", row, before)
    return row


async def segment_clients(session: AsyncSession, staff_id: int | None, segment_id: int | None) -> list[int]:
    """The active clients of the segment in ``staff_id``'s data scope, as opening it would list."""
    if staff_id is None or segment_id is None:
        raise EmptySegmentError("This campaign has no segment or no author whose data scope resolves it.")
    try:
        segment = await open_segment(session, staff_id, segment_id)
        filters = parse_filter(dict(parse_qsl(segment.query)))
    except CrmError as exc:
        raise InvalidCampaignError("segment_id", f"Segment: {exc}") from None
    scope = await data_scope_of(session, staff_id)
    ids = await session.scalars(
        select(User.id).where(*conditions(scope, filters), User.is_active.is_(True)).order_by(User.id)
    )
    return list(ids)


async def _require_clients(session: AsyncSession, row: Campaign) -> list[int]:
    clients = await segment_clients(session, row.created_by, row.segment_id)
    if not clients:
        name = await session.scalar(select(Segment.name).where(Segment.id == row.segment_id)) or "?"
        raise EmptySegmentError(
            f"The segment {name!r} holds no client to mail (in the data scope of the campaign's author): "
            "nothing was sent or scheduled."
        )
    return clients


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_send_at(raw: str, now: datetime | None = None) -> datetime:
    """A ``datetime-local`` value read as UTC, which must lie in the future."""
    try:
        moment = _aware(datetime.fromisoformat((raw or "").strip()))
    except ValueError:
        raise InvalidCampaignError("send_at", "Send at: use the form 2026-12-31T09:00 (UTC).") from None
    if moment <= (now or clock.utcnow()):
        raise InvalidCampaignError("send_at", "Send at: must be in the future (or use Send now).")
    return moment


async def schedule_campaign(
    session: AsyncSession, campaign_id: int, send_at: datetime, actor: Actor
) -> Campaign:
    """Draft -> scheduled; refused when the segment holds nobody now."""
    row = await get_campaign(session, campaign_id, lock=True)
    if row.status != CampaignStatus.DRAFT:
        raise CampaignStateError(f"Only a draft can be scheduled; this campaign is {row.status}.")
    await _require_clients(session, row)
    before = audit_view(row)
    row.status, row.send_at, row.updated_at = CampaignStatus.SCHEDULED, send_at, clock.utcnow()
    await session.flush()
    await _audited(session, actor, "comms.campaign_scheduled", row, before)
    return row


SEND_ACTOR = "comms.send_campaign"


async def start_campaign(session: AsyncSession, row: Campaign, actor: Actor, *, clients: list[int]) -> int:
    """Fix the recipients (one row per client) and mark the campaign sending; the sending job
    leaves after the commit. Returns how many clients it will mail (or skip as unsubscribed)."""
    now = clock.utcnow()
    before = audit_view(row)
    if clients:
        await session.execute(
            insert(CampaignRecipient),
            [
                {"campaign_id": row.id, "client_id": client_id, "status": RecipientStatus.PENDING}
                for client_id in clients
            ],
        )
    row.status, row.started_at, row.updated_at = CampaignStatus.SENDING, now, now
    row.links = literal_links(row.body_en, row.body_zh_hans)
    if row.send_at is None:
        row.send_at = now
    if not clients:
        row.status, row.finished_at = CampaignStatus.SENT, now
    await session.flush()
    await _audited(session, actor, "comms.campaign_started", row, before, recipients=len(clients))
    if clients:
        enqueue_after_commit(session, SEND_ACTOR, row.id)
    return len(clients)


async def send_now(session: AsyncSession, campaign_id: int, actor: Actor) -> int:
    """Draft -> sending at once; refused (nothing changed) when the segment holds nobody."""
    row = await get_campaign(session, campaign_id, lock=True)
    if row.status != CampaignStatus.DRAFT:
        raise CampaignStateError(f"Only a draft can be sent; this campaign is {row.status}.")
    clients = await _require_clients(session, row)
    return await start_campaign(session, row, actor, clients=clients)


async def start_due_campaigns(session: AsyncSession, actor: Actor, now: datetime | None = None) -> list[int]:
    """Start every scheduled campaign whose time has come. A segment emptied since it was scheduled
    finishes the campaign with no recipient (the audit event says so) rather than failing forever."""
    now = now or clock.utcnow()
    due = (
        await session.scalars(
            select(Campaign)
            .where(Campaign.status == CampaignStatus.SCHEDULED, Campaign.send_at <= now)
            .order_by(Campaign.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in due:
        try:
            clients = await segment_clients(session, row.created_by, row.segment_id)
        except (EmptySegmentError, InvalidCampaignError):
            clients = []
        await start_campaign(session, row, actor, clients=clients)
    return [row.id for row in due]


async def cancel_campaign(session: AsyncSession, campaign_id: int, actor: Actor) -> Campaign:
    """A scheduled campaign goes back to draft; a sending one stops: mails not yet handed to the
    SMTP server are cancelled, the ones in flight finish."""
    row = await get_campaign(session, campaign_id, lock=True)
    before = audit_view(row)
    now = clock.utcnow()
    if row.status == CampaignStatus.SCHEDULED:
        row.status, row.send_at = CampaignStatus.DRAFT, None
    elif row.status == CampaignStatus.SENDING:
        await session.execute(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == row.id, CampaignRecipient.status == RecipientStatus.PENDING
            )
            .values(status=RecipientStatus.CANCELLED)
            .execution_options(synchronize_session=False)
        )
        row.status, row.finished_at = CampaignStatus.CANCELLED, now
    else:
        raise CampaignStateError(
            f"Only a scheduled or sending campaign can be cancelled; this one is {row.status}."
        )
    row.updated_at = now
    await session.flush()
    await _audited(session, actor, "comms.campaign_cancelled", row, before)
    return row


@dataclass(frozen=True)
class CampaignCounts:
    """What happened to a campaign's mails. ``sent`` counts the mails the SMTP server answered
    for good (delivered or bounced); ``failed`` gave up on temporary refusals."""

    recipients: int = 0
    pending: int = 0
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0
    opened: int = 0
    clicked: int = 0
    clicks: int = 0


async def campaign_counts(session: AsyncSession, campaign_id: int) -> CampaignCounts:
    grouped = await session.execute(
        select(CampaignRecipient.status, func.count())
        .where(CampaignRecipient.campaign_id == campaign_id)
        .group_by(CampaignRecipient.status)
    )
    by_status: dict[str, int] = {status: int(n) for status, n in grouped}
    opened, clicked, clicks = (
        await session.execute(
            select(
                func.count(CampaignRecipient.opened_at),
                func.count(CampaignRecipient.clicked_at),
                func.coalesce(func.sum(CampaignRecipient.clicks), 0),
            ).where(CampaignRecipient.campaign_id == campaign_id)
        )
    ).one()
    delivered = by_status.get(RecipientStatus.DELIVERED, 0)
    bounced = by_status.get(RecipientStatus.BOUNCED, 0)
    return CampaignCounts(
        recipients=sum(by_status.values()),
        pending=by_status.get(RecipientStatus.PENDING, 0) + by_status.get(RecipientStatus.SENDING, 0),
        sent=delivered + bounced,
        delivered=delivered,
        bounced=bounced,
        failed=by_status.get(RecipientStatus.FAILED, 0),
        skipped=by_status.get(RecipientStatus.SKIPPED, 0),
        cancelled=by_status.get(RecipientStatus.CANCELLED, 0),
        opened=int(opened),
        clicked=int(clicked),
        clicks=int(clicks),
    )
