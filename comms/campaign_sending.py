"""Sending a campaign: claim a batch within the rate, talk SMTP outside any transaction, record
each recipient's answer.

- **Rate.** A campaign mails at most ``mails_per_minute`` in any 60 seconds: a batch claims only
  what the last minute's claims leave, and the scheduled job comes back for the rest.
- **Once per client.** A recipient row is claimed by one guarded transaction (the campaign row
  locked, ``BEGIN IMMEDIATE`` on SQLite) and never claimed again once it is ``sending``, so two
  workers, or a redelivered job, mail nobody twice. A worker that dies mid-conversation leaves the
  row ``sending``; :func:`expire_stale_claims` marks it failed (outcome unknown) rather than resend.
- **Answers.** The SMTP server's refusal of the recipient or the message with 5xx is a bounce; 4xx
  and lost connections are retried with backoff until :data:`MAX_ATTEMPTS`.
- **Unsubscribe.** A client who opted out by the time their turn comes is skipped and counted.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

import anyio.to_thread
from sqlalchemy import func, select, update

from comms.campaign_links import RecipientLinks
from comms.campaign_mail import RenderParts, build_message, compose, context_for, language_for
from comms.campaign_models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from comms.campaigns import start_due_campaigns
from comms.unsubscribe import opted_out_among
from core import clock
from core.audit.service import SYSTEM
from core.company import load_company
from core.db import Database
from core.errors import CoreError
from core.identity.models import User
from core.mail.delivery import send_over_smtp
from core.mail.models import CAPTURED, OutboxMail
from core.settings import Settings
from ib.sessions import posting_session as write_session

logger = logging.getLogger(__name__)
WINDOW = timedelta(minutes=1)
MAX_ATTEMPTS = 5
MAX_BATCH = 100
"""Mails one job sends at most, so a job stays well inside the worker's time limit; a full batch
asks for the next one at once (:attr:`BatchResult.more`)."""
STALE_CLAIM = timedelta(minutes=15)
ANSWER_LIMIT = 500
CAMPAIGN_TEMPLATE = "campaign"


@dataclass(frozen=True)
class Claim:
    recipient_id: int
    email: str
    name: str
    language: str
    attempts: int
    """Counting this one."""


@dataclass(frozen=True)
class Outcome:
    status: RecipientStatus
    code: int | None
    answer: str

    @property
    def final(self) -> bool:
        return self.status is not RecipientStatus.PENDING


@dataclass(frozen=True)
class BatchResult:
    claimed: int = 0
    delivered: int = 0
    bounced: int = 0
    retried: int = 0
    skipped: int = 0
    finished: bool = False

    @property
    def more(self) -> bool:
        """The batch was full: the rate may allow more now, so the next job can follow at once."""
        return self.claimed + self.skipped >= MAX_BATCH and not self.finished


def classify(exc: Exception) -> Outcome:
    """The recipient's outcome from what ``smtplib`` raised: 5xx bounces, anything else retries."""
    code: int | None = None
    raw: bytes | str = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, raw = next(iter(exc.recipients.values()))
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, raw = exc.smtp_code, exc.smtp_error
    answer = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    if code is not None and 500 <= code < 600:
        return Outcome(RecipientStatus.BOUNCED, code, answer[:ANSWER_LIMIT])
    return Outcome(RecipientStatus.PENDING, code, answer[:ANSWER_LIMIT])


def backoff(attempts: int) -> timedelta:
    """5, 20, 80, 320 minutes after the 1st, 2nd, 3rd, 4th temporary refusal (greylisting
    servers accept a retry after a few minutes)."""
    return timedelta(minutes=5 * 4 ** max(0, attempts - 1))


async def _claim(
    database: Database, campaign_id: int, now: datetime
) -> tuple[Campaign | None, list[Claim], int]:
    """Claim what the rate allows now; returns the campaign, the claims and how many were skipped."""
    async with write_session(database) as session:
        campaign = await session.get(Campaign, campaign_id, with_for_update=True)
        if campaign is None or campaign.status != CampaignStatus.SENDING:
            return None, [], 0
        session.expunge(campaign)
        recent = int(
            await session.scalar(
                select(func.count())
                .select_from(CampaignRecipient)
                .where(
                    CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.claimed_at > now - WINDOW
                )
            )
            or 0
        )
        budget = min(campaign.mails_per_minute - recent, MAX_BATCH)
        if budget <= 0:
            return campaign, [], 0
        rows = (
            await session.execute(
                select(
                    CampaignRecipient.id,
                    CampaignRecipient.client_id,
                    CampaignRecipient.attempts,
                    User.email,
                    User.display_name,
                    User.language,
                )
                .join(User, User.id == CampaignRecipient.client_id)
                .where(
                    CampaignRecipient.campaign_id == campaign_id,
                    CampaignRecipient.status == RecipientStatus.PENDING,
                    (CampaignRecipient.next_attempt_at.is_(None))
                    | (CampaignRecipient.next_attempt_at <= now),
                )
                .order_by(CampaignRecipient.id)
                .limit(budget)
            )
        ).all()
        opted_out = await opted_out_among(session, [row.client_id for row in rows])
        skipped = [row.id for row in rows if row.client_id in opted_out]
        claims = [
            Claim(row.id, row.email, row.display_name, language_for(campaign, row.language), row.attempts + 1)
            for row in rows
            if row.client_id not in opted_out
        ]
        if skipped:
            await session.execute(
                update(CampaignRecipient)
                .where(CampaignRecipient.id.in_(skipped))
                .values(status=RecipientStatus.SKIPPED, smtp_answer="unsubscribed from marketing mail")
                .execution_options(synchronize_session=False)
            )
        for claim in claims:
            await session.execute(
                update(CampaignRecipient)
                .where(
                    CampaignRecipient.id == claim.recipient_id,
                    CampaignRecipient.status == RecipientStatus.PENDING,
                )
                .values(
                    status=RecipientStatus.SENDING,
                    claimed_at=now,
                    attempts=CampaignRecipient.attempts + 1,
                    email=claim.email,
                    language=claim.language,
                )
                .execution_options(synchronize_session=False)
            )
        return campaign, claims, len(skipped)


async def _record(database: Database, claim: Claim, outcome: Outcome, now: datetime) -> None:
    """One UPDATE without a read first (as :mod:`core.mail.delivery` does, for SQLite's locks)."""
    values: dict[str, object] = {"smtp_code": outcome.code, "smtp_answer": outcome.answer}
    if outcome.final:
        values.update(status=outcome.status, sent_at=now)
    elif claim.attempts >= MAX_ATTEMPTS:
        values.update(status=RecipientStatus.FAILED)
    else:
        values.update(status=RecipientStatus.PENDING, next_attempt_at=now + backoff(claim.attempts))
    async with database.transaction() as session:
        await session.execute(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.id == claim.recipient_id,
                CampaignRecipient.status == RecipientStatus.SENDING,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )


async def _capture(database: Database, claim: Claim, subject: str, text: str, html: str) -> None:
    """Without an SMTP server (the demo) the mail is kept for the back office's dev mailbox."""
    async with database.transaction() as session:
        now = clock.utcnow()
        session.add(
            OutboxMail(
                to_address=claim.email,
                subject=subject,
                text_body=text,
                html_body=html,
                template=CAMPAIGN_TEMPLATE,
                language=claim.language,
                status=CAPTURED,
                created_at=now,
                sent_at=now,
            )
        )


async def _deliver(
    database: Database,
    settings: Settings,
    claim: Claim,
    message_parts: tuple[str, str, str],
    message: EmailMessage,
) -> Outcome:
    if not settings.smtp_host:
        await _capture(database, claim, *message_parts)
        return Outcome(RecipientStatus.DELIVERED, None, "kept for the dev mailbox (no SMTP server)")
    try:
        await anyio.to_thread.run_sync(send_over_smtp, settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        return classify(exc)
    return Outcome(RecipientStatus.DELIVERED, 250, "accepted")


async def send_batch(
    database: Database, settings: Settings, render: RenderParts, campaign_id: int, now: datetime | None = None
) -> BatchResult:
    """Mail the next batch the rate allows; finish the campaign when nobody is left."""
    now = now or clock.utcnow()
    campaign, claims, skipped = await _claim(database, campaign_id, now)
    if campaign is None:
        return BatchResult()
    async with database.session() as session:
        company = (await load_company(session)).as_json()
    counts = {RecipientStatus.DELIVERED: 0, RecipientStatus.BOUNCED: 0, RecipientStatus.PENDING: 0}
    for claim in claims:
        links = RecipientLinks(settings.public_portal_url, settings.effective_secret_key, claim.recipient_id)
        try:
            mail = compose(
                campaign, render, links, claim.language, context_for(claim.name, claim.email, company)
            )
        except CoreError as exc:  # the sandbox refused a template that rendered when saved: fail, go on
            logger.warning(
                "campaign %s recipient %s did not render: %s", campaign_id, claim.recipient_id, exc
            )
            outcome = Outcome(RecipientStatus.FAILED, None, f"did not render: {exc}"[:ANSWER_LIMIT])
        else:
            message = build_message(mail, settings.mail_from, claim.email, claim.recipient_id)
            outcome = await _deliver(database, settings, claim, (mail.subject, mail.text, mail.html), message)
        await _record(database, claim, outcome, now)
        counts[outcome.status if outcome.status in counts else RecipientStatus.PENDING] += 1
    finished = await finish_if_done(database, campaign_id)
    return BatchResult(
        claimed=len(claims),
        delivered=counts[RecipientStatus.DELIVERED],
        bounced=counts[RecipientStatus.BOUNCED],
        retried=counts[RecipientStatus.PENDING],
        skipped=skipped,
        finished=finished,
    )


async def finish_if_done(database: Database, campaign_id: int) -> bool:
    """Mark the campaign sent once no recipient is pending or in flight."""
    async with database.transaction() as session:
        open_rows = select(CampaignRecipient.id).where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.status.in_([RecipientStatus.PENDING, RecipientStatus.SENDING]),
        )
        result = await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING, ~open_rows.exists())
            .values(status=CampaignStatus.SENT, finished_at=clock.utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))


async def expire_stale_claims(database: Database, now: datetime | None = None) -> int:
    """Recipients left ``sending`` by a worker that stopped: failed with an unknown outcome, never
    resent (the SMTP server may have taken the mail)."""
    now = now or clock.utcnow()
    async with database.transaction() as session:
        result = await session.execute(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.status == RecipientStatus.SENDING,
                CampaignRecipient.claimed_at < now - STALE_CLAIM,
            )
            .values(
                status=RecipientStatus.FAILED,
                smtp_answer="outcome unknown: the worker stopped mid-send; not resent",
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


async def sending_campaigns(database: Database) -> list[int]:
    async with database.session() as session:
        return list(
            await session.scalars(select(Campaign.id).where(Campaign.status == CampaignStatus.SENDING))
        )


async def start_due_and_fan_out(database: Database) -> list[int]:
    """The scheduled tick: start campaigns whose time has come, expire stale claims, and return
    every sending campaign so the caller can send one ``comms.send_campaign`` job for each (a
    started campaign's own job also leaves when its start commits)."""
    async with database.transaction() as session:
        await start_due_campaigns(session, SYSTEM)
    await expire_stale_claims(database)
    return await sending_campaigns(database)
