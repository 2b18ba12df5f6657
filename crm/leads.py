"""Leads: prospects entered by hand, imported from CSV or captured from unfinished registrations,
owned by staff, moved along a status pipeline and converted into clients.

Every change is audited with before and after. Reads go through the caller's data scope
(:func:`crm.scope.visible_owner`), so limited staff see only their own or their team's leads.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, String, and_, case, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.models import Deposit, DepositStatus
from core import clock
from core.audit.models import AuditEvent
from core.audit.service import Actor, audit_event, record_audit
from core.events import EventKind, record_event
from core.i18n.catalogs import LANGUAGES
from core.identity import tokens
from core.identity.models import CLIENT, STAFF, User
from core.identity.passwords import hash_password
from core.settings import Settings
from crm.assignment import assign_client
from crm.mailing import Mailer
from crm.models import ClientOwner
from crm.scope import DataScope, visible_owner
from crm.work_errors import (
    DuplicateLeadError,
    LeadError,
    LeadImportError,
    LeadNotFoundError,
    LeadTransitionError,
)
from crm.work_models import Lead
from kyc.models import CaseStatus, KycCase


class LeadStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    LOST = "lost"


class LeadSource(StrEnum):
    MANUAL = "manual"
    CSV = "csv"
    REGISTRATION = "registration"


TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    LeadStatus.NEW: frozenset({LeadStatus.CONTACTED, LeadStatus.LOST}),
    LeadStatus.CONTACTED: frozenset({LeadStatus.QUALIFIED, LeadStatus.LOST}),
    LeadStatus.QUALIFIED: frozenset({LeadStatus.CONTACTED, LeadStatus.LOST, LeadStatus.CONVERTED}),
    LeadStatus.LOST: frozenset({LeadStatus.NEW}),
    LeadStatus.CONVERTED: frozenset(),
}
"""The pipeline: new → contacted → qualified → converted, lost from any open stage, and a lost
lead can be reopened as new. ``converted`` is reached only through :func:`convert_lead`."""

STAGE_EMAIL_UNVERIFIED = "email_unverified"
STAGE_KYC_UNFINISHED = "kyc_unfinished"
STAGE_NO_DEPOSIT = "no_deposit"
STAGE_FINISHED = "finished"

UNFINISHED_AFTER_DAYS = 3
"""A registration still unfinished this many days after sign-up becomes a lead."""
CAPTURE_BATCH = 5000
"""Clients one capture run handles at most (the next run goes on)."""

INVITATION_MAIL = "crm_invitation"
MAX_IMPORT_ROWS = 5000
IMPORT_COLUMNS = ("email", "name", "phone", "country", "language")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
"""The shape of address registration accepts (core.identity.accounts), which the domain can't import."""
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ()\-]{4,30}$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class LeadFields:
    """A lead's contact fields, checked and normalised."""

    email: str
    name: str = ""
    phone: str = ""
    country: str = ""
    language: str = "en"


def normalise_email(email: str) -> str:
    """Stripped and lower-cased, as users' emails are stored."""
    return email.strip().lower()


def clean_lead_fields(raw: Mapping[str, str]) -> LeadFields:
    """Check and normalise the contact fields; raise :class:`LeadError` naming the bad field."""
    email = normalise_email(raw.get("email") or "")
    if not email:
        raise LeadError("email: required")
    if len(email) > 320 or not EMAIL_PATTERN.match(email):
        raise LeadError(f"email: {email!r} is not an email address")
    name = " ".join((raw.get("name") or "").split())
    if len(name) > 200:
        raise LeadError("name: at most 200 characters")
    phone = " ".join((raw.get("phone") or "").split())
    if phone and not PHONE_PATTERN.match(phone):
        raise LeadError(f"phone: {phone!r} is not a phone number (digits, spaces, + - and brackets)")
    country = (raw.get("country") or "").strip().upper()
    if country and not COUNTRY_PATTERN.match(country):
        raise LeadError(f"country: {country!r} is not a two-letter ISO country code")
    language = (raw.get("language") or "").strip() or "en"
    if language not in LANGUAGES:
        raise LeadError(f"language: choose one of {', '.join(LANGUAGES)}")
    return LeadFields(email=email, name=name, phone=phone, country=country, language=language)


def lead_snapshot(lead: Lead) -> dict[str, Any]:
    """What the audit log keeps of a lead."""
    return {
        "email": lead.email,
        "name": lead.name,
        "phone": lead.phone,
        "country": lead.country,
        "language": lead.language,
        "source": lead.source,
        "status": lead.status,
        "owner_id": lead.owner_id,
        "client_id": lead.client_id,
        "registration_stage": lead.registration_stage,
    }


async def _require_active_staff(session: AsyncSession, staff_id: int) -> User:
    user = await session.get(User, staff_id)
    if user is None or user.kind != STAFF:
        raise LeadError(f"owner: no staff member has id {staff_id}")
    if not user.is_active:
        raise LeadError(f"owner: staff member {user.email} is disabled")
    return user


async def _check_owner(session: AsyncSession, scope: DataScope, owner_id: int | None) -> None:
    """The owner is active staff, and a limited staff member may give leads only within their reach."""
    if owner_id is not None:
        await _require_active_staff(session, owner_id)
    if not scope.allows_owner(owner_id):
        raise LeadError("owner: your data scope lets you give leads only to yourself or your team")


async def _emails_taken(session: AsyncSession, emails: Sequence[str]) -> dict[str, str]:
    """Why each of ``emails`` can't be a new lead: it is already a lead's or a client's."""
    taken: dict[str, str] = {}
    for start in range(0, len(emails), 1000):
        chunk = list(emails[start : start + 1000])
        clients = await session.execute(
            select(User.email, User.id).where(User.kind == CLIENT, User.email.in_(chunk))
        )
        taken.update({e: f"email: {e} is already client #{i}" for e, i in clients.all()})
        found = await session.execute(select(Lead.email, Lead.id).where(Lead.email.in_(chunk)))
        taken.update({e: f"email: {e} is already lead #{i}" for e, i in found.all()})
    return taken


async def create_lead(
    session: AsyncSession,
    actor: Actor,
    scope: DataScope,
    raw: Mapping[str, str],
    owner_id: int | None,
    *,
    source: LeadSource = LeadSource.MANUAL,
) -> Lead:
    """A new lead from a form; refused when its email is a lead's or a client's already."""
    fields = clean_lead_fields(raw)
    await _check_owner(session, scope, owner_id)
    taken = await _emails_taken(session, [fields.email])
    if taken:
        raise DuplicateLeadError(taken[fields.email])
    (lead,) = await _insert_leads(session, actor, [fields], owner_id, source)
    return lead


async def _insert_leads(
    session: AsyncSession,
    actor: Actor,
    rows: Sequence[LeadFields],
    owner_id: int | None,
    source: LeadSource,
) -> list[Lead]:
    """Insert new leads in one multi-row INSERT, each with its ``crm.lead_created`` event."""
    now = clock.utcnow()
    created = [
        Lead(
            email=fields.email,
            name=fields.name,
            phone=fields.phone,
            country=fields.country,
            language=fields.language,
            source=source.value,
            status=LeadStatus.NEW.value,
            registration_stage="",
            owner_id=owner_id,
            created_by=actor.id,
            created_at=now,
            updated_at=now,
        )
        for fields in rows
    ]
    session.add_all(created)
    await session.flush()
    session.add_all(
        audit_event(
            actor, "crm.lead_created", target_type="lead", target_id=lead.id, after=lead_snapshot(lead)
        )
        for lead in created
    )
    await session.flush()
    return created


@dataclass
class ImportResult:
    created: list[int] = field(default_factory=list)


def _decode_csv(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LeadImportError([(1, "the file is not UTF-8 text")]) from None


async def import_leads_csv(
    session: AsyncSession, actor: Actor, scope: DataScope, data: bytes, owner_id: int | None
) -> ImportResult:
    """Import leads from CSV, all or nothing.

    The header names the columns (``email`` is required; ``name``, ``phone``, ``country`` and
    ``language`` are optional). Every row is checked, and duplicates are looked for within the
    file and against existing leads and clients; any error raises :class:`LeadImportError` with
    every bad row's line number, and nothing is written.
    """
    await _check_owner(session, scope, owner_id)
    reader = csv.DictReader(io.StringIO(_decode_csv(data), newline=""))
    header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    if "email" not in header:
        raise LeadImportError([(1, "the header row has no email column")])
    unknown = [name for name in header if name not in IMPORT_COLUMNS]
    if unknown:
        raise LeadImportError(
            [(1, f"unknown column(s) {', '.join(unknown)}; use {', '.join(IMPORT_COLUMNS)}")]
        )
    reader.fieldnames = header
    errors: list[tuple[int, str]] = []
    rows: list[tuple[int, LeadFields]] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if len(rows) + len(errors) >= MAX_IMPORT_ROWS:
                errors.append((line, f"a file holds at most {MAX_IMPORT_ROWS} rows"))
                break
            if None in row:
                errors.append((line, "more fields than the header has columns"))
                continue
            values = {key: (value or "") for key, value in row.items() if key}
            if not any(v.strip() for v in values.values()):
                continue  # a blank line
            try:
                fields = clean_lead_fields(values)
            except LeadError as exc:
                errors.append((line, str(exc)))
                continue
            if fields.email in seen:
                errors.append((line, f"email: {fields.email} is also on line {seen[fields.email]}"))
                continue
            seen[fields.email] = line
            rows.append((line, fields))
    except csv.Error as exc:
        errors.append((reader.line_num, f"not readable as CSV ({exc})"))
    taken = await _emails_taken(session, [fields.email for _line, fields in rows])
    errors.extend((line, taken[fields.email]) for line, fields in rows if fields.email in taken)
    if errors:
        raise LeadImportError(sorted(errors))
    if not rows:
        raise LeadImportError([(1, "the file holds no leads")])
    created = await _insert_leads(
        session, actor, [fields for _line, fields in rows], owner_id, LeadSource.CSV
    )
    result = ImportResult(created=[lead.id for lead in created])
    await record_audit(
        session,
        actor,
        "crm.leads_imported",
        target_type="lead",
        after={"rows": len(result.created), "owner_id": owner_id, "lead_ids": result.created},
    )
    return result


async def get_lead(session: AsyncSession, scope: DataScope, lead_id: int, *, lock: bool = False) -> Lead:
    """The lead, when the scope covers it; :class:`LeadNotFoundError` otherwise (no hint that it exists)."""
    lead = await session.get(Lead, lead_id, with_for_update=lock)
    if lead is None or not scope.allows_owner(lead.owner_id):
        raise LeadNotFoundError(f"no lead #{lead_id}")
    return lead


async def change_status(
    session: AsyncSession, actor: Actor, scope: DataScope, lead_id: int, status: str
) -> Lead:
    """Move the lead along the pipeline; only the transitions in :data:`TRANSITIONS` are allowed."""
    lead = await get_lead(session, scope, lead_id, lock=True)
    try:
        target = LeadStatus(status)
    except ValueError:
        raise LeadTransitionError(f"status: unknown status {status!r}") from None
    current = LeadStatus(lead.status)
    if target is LeadStatus.CONVERTED:
        raise LeadTransitionError("status: convert the lead to make it a client")
    if target not in TRANSITIONS[current]:
        raise LeadTransitionError(f"status: a {current.value} lead can't become {target.value}")
    lead.status, lead.updated_at = target.value, clock.utcnow()
    await session.flush()
    await record_audit(
        session,
        actor,
        "crm.lead_status_changed",
        target_type="lead",
        target_id=lead.id,
        before={"status": current.value},
        after={"status": target.value},
    )
    return lead


async def assign_lead(
    session: AsyncSession, actor: Actor, scope: DataScope, lead_id: int, owner_id: int | None
) -> Lead:
    """Give the lead to another staff member (or to nobody)."""
    lead = await get_lead(session, scope, lead_id, lock=True)
    await _check_owner(session, scope, owner_id)
    if lead.owner_id == owner_id:
        return lead
    before = {"owner_id": lead.owner_id}
    lead.owner_id, lead.updated_at = owner_id, clock.utcnow()
    await session.flush()
    await record_audit(
        session,
        actor,
        "crm.lead_assigned",
        target_type="lead",
        target_id=lead.id,
        before=before,
        after={"owner_id": owner_id},
    )
    return lead


@dataclass(frozen=True, slots=True)
class Conversion:
    lead: Lead
    client_id: int
    created_client: bool
    invitation_mail_id: int | None


async def convert_lead(
    session: AsyncSession, settings: Settings, mailer: Mailer, actor: Actor, scope: DataScope, lead_id: int
) -> Conversion:
    """Make a qualified lead a client.

    A lead from a registration (or whose email a client registered with since) is linked to that
    client; otherwise a client account is created with an unusable random password, and a
    set-password invitation is mailed through the identity token path (the portal's reset-password
    link, which also proves the address). The lead's owner becomes the client's owner.
    """
    lead = await get_lead(session, scope, lead_id, lock=True)
    current = LeadStatus(lead.status)
    if LeadStatus.CONVERTED not in TRANSITIONS[current]:
        raise LeadTransitionError(f"status: a {current.value} lead can't be converted; qualify it first")
    before = lead_snapshot(lead)
    client: User | None = None
    if lead.client_id is not None:
        client = await session.get(User, lead.client_id)
    if client is None:
        client = await session.scalar(select(User).where(User.kind == CLIENT, User.email == lead.email))
    created = client is None
    mail_id: int | None = None
    if client is None:
        client = await _create_invited_client(session, settings, actor, lead)
        mail_id = await _mail_invitation(session, settings, mailer, client)
    elif client.email_verified_at is None:
        await mailer.send_verification(session, settings, client)
    now = clock.utcnow()
    lead.status, lead.client_id, lead.converted_at, lead.updated_at = (
        LeadStatus.CONVERTED.value,
        client.id,
        now,
        now,
    )
    await session.flush()
    if lead.owner_id is not None:
        await assign_client(session, actor, client.id, lead.owner_id)
    await record_audit(
        session,
        actor,
        "crm.lead_converted",
        target_type="lead",
        target_id=lead.id,
        before=before,
        after={**lead_snapshot(lead), "created_client": created, "invited": mail_id is not None},
    )
    return Conversion(lead=lead, client_id=client.id, created_client=created, invitation_mail_id=mail_id)


async def _create_invited_client(session: AsyncSession, settings: Settings, actor: Actor, lead: Lead) -> User:
    user = User(
        kind=CLIENT,
        email=lead.email,
        display_name=lead.name,
        password_hash=await hash_password(settings, secrets.token_urlsafe(32)),
        language=lead.language,
        created_at=clock.utcnow(),
    )
    session.add(user)
    await session.flush()
    record_event(
        session, EventKind.CLIENT_REGISTERED, client_id=user.id, language=user.language, source="lead"
    )
    await record_audit(
        session,
        actor,
        "client.created_from_lead",
        target_type="user",
        target_id=user.id,
        after={"email": user.email, "lead_id": lead.id, "language": user.language},
    )
    return user


async def _mail_invitation(session: AsyncSession, settings: Settings, mailer: Mailer, client: User) -> int:
    hours = settings.email_token_hours
    token = await tokens.issue_token(session, client.id, tokens.RESET_PASSWORD, timedelta(hours=hours))
    mail = await mailer.queue_mail(
        session,
        client.email,
        INVITATION_MAIL,
        client.language,
        {"link": f"{settings.public_portal_url}/reset-password/{token}", "hours": hours},
        holds_secret=True,
    )
    return mail.id


# Unfinished registrations --------------------------------------------------------------------


def registration_stage() -> Any:
    """SQL for the first onboarding step a client has not done, or ``finished``."""
    kyc_approved = exists(
        select(KycCase.client_id).where(KycCase.client_id == User.id, KycCase.status == CaseStatus.APPROVED)
    )
    funded = exists(
        select(Deposit.id).where(Deposit.client_id == User.id, Deposit.status == DepositStatus.CREDITED)
    )
    return case(
        (User.email_verified_at.is_(None), STAGE_EMAIL_UNVERIFIED),
        (~kyc_approved, STAGE_KYC_UNFINISHED),
        (~funded, STAGE_NO_DEPOSIT),
        else_=STAGE_FINISHED,
    )


@dataclass
class CaptureResult:
    created: int = 0
    linked: int = 0
    refreshed: int = 0


async def capture_unfinished_registrations(
    session: AsyncSession,
    now: datetime,
    *,
    after_days: int = UNFINISHED_AFTER_DAYS,
    actor: Actor,
    limit: int = CAPTURE_BATCH,
) -> CaptureResult:
    """Turn clients who registered at least ``after_days`` ago and never verified their email,
    finished KYC or deposited into leads, and refresh the stage of leads captured before.

    Idempotent: a client has at most one lead (``client_id`` is unique), a lead is only touched
    when its stage changed, and a hand-made lead with the client's email is linked, not doubled.
    One run handles at most ``limit`` clients, oldest ids first, so its transaction stays short;
    the next scheduled run goes on where it stopped (handled clients no longer match).
    """
    stage = registration_stage()
    cutoff = now - timedelta(days=after_days)
    rows = (
        await session.execute(
            select(
                User.id,
                User.email,
                User.display_name,
                User.language,
                stage.label("stage"),
                Lead,
                ClientOwner.owner_id,
            )
            .outerjoin(Lead, Lead.client_id == User.id)
            .outerjoin(ClientOwner, ClientOwner.client_id == User.id)
            .where(
                User.kind == CLIENT,
                User.is_active.is_(True),
                User.created_at <= cutoff,
                or_(
                    and_(Lead.id.is_(None), stage != STAGE_FINISHED),
                    and_(
                        Lead.id.is_not(None),
                        Lead.status != LeadStatus.CONVERTED.value,
                        Lead.registration_stage != stage,
                    ),
                ),
            )
            .order_by(User.id)
            .limit(limit)
        )
    ).all()
    result = CaptureResult()
    events: list[AuditEvent] = []
    fresh = [row for row in rows if row[5] is None]
    by_email: dict[str, Lead] = {}
    for start in range(0, len(fresh), 1000):
        emails = [row[1] for row in fresh[start : start + 1000]]
        found = await session.scalars(select(Lead).where(Lead.email.in_(emails)).with_for_update())
        by_email.update({lead.email: lead for lead in found})
    created: list[Lead] = []
    for client_id, email, display_name, language, user_stage, lead, owner_id in rows:
        if lead is not None:
            events.append(
                audit_event(
                    actor,
                    "crm.lead_refreshed",
                    target_type="lead",
                    target_id=lead.id,
                    before={"registration_stage": lead.registration_stage},
                    after={"registration_stage": user_stage},
                )
            )
            lead.registration_stage, lead.updated_at = user_stage, now
            result.refreshed += 1
        elif email in by_email:
            linked = by_email[email]
            if linked.client_id is not None:
                continue  # the address's lead belongs to another client already: leave both alone
            before = lead_snapshot(linked)
            linked.client_id, linked.registration_stage, linked.updated_at = client_id, user_stage, now
            events.append(
                audit_event(
                    actor,
                    "crm.lead_linked_to_registration",
                    target_type="lead",
                    target_id=linked.id,
                    before=before,
                    after=lead_snapshot(linked),
                )
            )
            result.linked += 1
        else:
            created.append(
                Lead(
                    email=email,
                    name=display_name,
                    language=language,
                    source=LeadSource.REGISTRATION.value,
                    status=LeadStatus.NEW.value,
                    registration_stage=user_stage,
                    owner_id=owner_id,
                    client_id=client_id,
                    created_at=now,
                    updated_at=now,
                )
            )
    session.add_all(created)
    await session.flush()  # one multi-row INSERT: the new leads get their ids
    for new in created:
        events.append(
            audit_event(
                actor, "crm.lead_captured", target_type="lead", target_id=new.id, after=lead_snapshot(new)
            )
        )
    result.created = len(created)
    session.add_all(events)
    await session.flush()
    return result


# Reading ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeadFilter:
    status: str = ""
    source: str = ""
    owner_id: int | None = None
    text: str = ""
    page: int = 1


def _filtered(scope: DataScope, filters: LeadFilter) -> Select[Lead]:
    query = select(Lead).where(visible_owner(scope, Lead.owner_id.expression))
    if filters.status:
        query = query.where(Lead.status == filters.status)
    if filters.source:
        query = query.where(Lead.source == filters.source)
    if filters.owner_id is not None:
        query = query.where(Lead.owner_id == filters.owner_id)
    text = filters.text.strip().lower()
    if text:
        pattern = f"%{text.replace('%', '').replace('_', '')}%"
        query = query.where(
            or_(
                Lead.email.like(pattern),
                func.lower(Lead.name).like(pattern),
                Lead.phone.like(pattern),
                cast(Lead.id, String) == text,
            )
        )
    return query


async def list_leads(
    session: AsyncSession, scope: DataScope, filters: LeadFilter
) -> tuple[Sequence[Lead], int]:
    """One page of the leads the scope covers, newest first, and how many match in all."""
    query = _filtered(scope, filters)
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    page = max(filters.page, 1)
    rows = (
        await session.scalars(query.order_by(Lead.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    ).all()
    return rows, total


async def pipeline_counts(session: AsyncSession, scope: DataScope) -> dict[str, int]:
    """How many visible leads stand at each status."""
    rows = await session.execute(
        select(Lead.status, func.count())
        .where(visible_owner(scope, Lead.owner_id.expression))
        .group_by(Lead.status)
    )
    counts = {status.value: 0 for status in LeadStatus}
    counts.update({str(status): int(n) for status, n in rows.all()})
    return counts


def allowed_next(status: str) -> list[str]:
    """The statuses a staff member may pick next (conversion has its own button)."""
    return sorted(s.value for s in TRANSITIONS[LeadStatus(status)] if s is not LeadStatus.CONVERTED)
