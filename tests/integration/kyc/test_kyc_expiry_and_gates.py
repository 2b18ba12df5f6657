"""The daily expiry job on a real worker, its schedule, and every KYC gate at every level, called the
way other packages call them: through the injected functions."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from cli.seed_kyc import tiny_pdf, tiny_png
from core.db import Database
from core.identity.models import User
from core.mail.models import OutboxMail
from core.settings import Settings
from core.storage import EncryptedFileStore
from kyc import documents, review
from kyc.config import QuestionnaireConfig
from kyc.errors import KycLevelRequiredError
from kyc.gates import KYC_GATES, DepositGate, KycGates, LevelGate
from kyc.models import DocumentKind, DocumentSide, KycCase, KycLevel
from kyc.profile import ProfileInput, add_profile_version
from kyc.questionnaire import submit_questionnaire
from tests.helpers import make_client
from workers.scheduler import DAY_SECONDS, SCHEDULES, Scheduler

PROFILE = ProfileInput(
    first_name="Demo",
    last_name="Expiring",
    birth_date="1985-01-01",
    nationality="GB",
    country_of_residence="GB",
    address_line="1 Example Street",
    city="Exampleton",
    postal_code="EX1 1AA",
    phone="+442079460000",
    tax_residence="GB",
    tin="AB123456C",
    employment_status="employed",
    source_of_funds="salary",
)
REVIEWER = 9001


async def verified_client(
    db: Database, settings: Settings, email: str, *, passport_expires: date, approve: bool = True
) -> int:
    """A client with profile, answers and documents; with ``approve`` reviewed to level full."""
    client_id = await make_client(db, settings, email)
    now = datetime.now(UTC)
    store = EncryptedFileStore.from_settings(settings)
    async with db.transaction() as session:
        await add_profile_version(session, client_id, PROFILE, actor_id=client_id, today=now.date())
        best = {q.key: max(q.choices, key=lambda c: c.points).value for q in QuestionnaireConfig().questions}
        await submit_questionnaire(session, client_id, best)
        await review.refresh_case(session, client_id, client_id, now)
        for kind, data, expires in (
            (DocumentKind.PASSPORT, tiny_png(b"passport"), passport_expires),
            (DocumentKind.PROOF_OF_ADDRESS, tiny_pdf(), None),
            (DocumentKind.SELFIE, tiny_png(b"selfie"), None),
        ):
            await documents.upload_document(
                session,
                store,
                client_id=client_id,
                kind=kind,
                side=DocumentSide.SINGLE,
                filename=f"{kind.value}.png",
                data=data,
                expires_on=expires,
                max_bytes=settings.max_upload_bytes,
                today=now.date(),
            )
        await review.submit_for_review(session, client_id, client_id, now)
    if approve:
        async with db.transaction() as session:
            for document in await documents.client_documents(session, client_id):
                await review.review_document(
                    session, document.id, REVIEWER, approve=True, reason=None, now=now
                )
            await review.decide(session, client_id, REVIEWER, approve=True, reason=None, now=now)
    return client_id


async def mails_to(db: Database, email: str) -> list[OutboxMail]:
    async with db.session() as session:
        return list(await session.scalars(select(OutboxMail).where(OutboxMail.to_address == email)))


async def test_expiring_documents_actor_mails_each_client_once(db: Database, settings: Settings) -> None:
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from workers import runtime
    from workers.broker import create_broker

    today = datetime.now(UTC).date()
    soon = today + timedelta(days=20)
    await verified_client(db, settings, "soon@example.test", passport_expires=soon)
    chinese = await verified_client(
        db, settings, "bald@example.test", passport_expires=today + timedelta(days=29)
    )
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == chinese).values(language="zh_Hans"))
    await verified_client(db, settings, "later@example.test", passport_expires=today + timedelta(days=90))
    await verified_client(db, settings, "pending@example.test", passport_expires=soon, approve=False)

    broker = create_broker(settings)
    assert isinstance(broker, StubBroker)
    worker_db = Database.from_url(settings.database_url)
    runtime.install(runtime.WorkerRuntime(settings=settings, database=worker_db))
    sys.modules.pop("workers.actors", None)
    import workers.actors

    assert broker.get_actor("kyc.notify_expiring_documents") is workers.actors.notify_expiring_documents
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        for _run in range(2):  # the second run (a redelivery, or tomorrow's) mails nobody again
            workers.actors.notify_expiring_documents.send()
            await asyncio.to_thread(broker.join, "default", timeout=10_000, fail_fast=True)
            await asyncio.to_thread(worker.join)
    finally:
        worker.stop()
        await worker_db.dispose()

    (mail,) = await mails_to(db, "soon@example.test")
    assert mail.template == "kyc_document_expiring"
    assert mail.subject == "Your identity document expires soon"
    assert f"passport: expires on {soon.isoformat()}" in mail.text_body
    assert "/kyc/documents" in mail.text_body
    (chinese_mail,) = await mails_to(db, "bald@example.test")
    assert chinese_mail.subject == "您的身份证件即将过期"
    assert "护照" in chinese_mail.text_body
    assert await mails_to(db, "later@example.test") == []
    assert await mails_to(db, "pending@example.test") == []


def test_expiry_job_is_scheduled_daily() -> None:
    assert any(
        s.actor_name == "kyc.notify_expiring_documents" and s.every_seconds == DAY_SECONDS for s in SCHEDULES
    )
    now = [1000.0]
    sent: list[str] = []
    scheduler = Scheduler(SCHEDULES, clock=lambda: now[0], send=sent.append)
    scheduler.tick()
    assert "kyc.notify_expiring_documents" in sent
    sent.clear()
    now[0] += 3600
    scheduler.tick()
    assert "kyc.notify_expiring_documents" not in sent
    now[0] += DAY_SECONDS
    scheduler.tick()
    assert "kyc.notify_expiring_documents" in sent


async def open_live_account(session: object, client_id: int, *, gate: LevelGate) -> str:
    """Stands for another package's service: it knows only the injected gate's type."""
    await gate(session, client_id)  # type: ignore[arg-type]
    return "opened"


async def deposit(session: object, client_id: int, amount: int, before: int, *, gate: DepositGate) -> str:
    await gate(session, client_id, amount, before)  # type: ignore[arg-type]
    return "credited"


async def test_every_gate_at_every_level(db: Database, settings: Settings) -> None:
    gates: KycGates = KYC_GATES
    far = datetime.now(UTC).date() + timedelta(days=800)
    nobody = await make_client(db, settings, "none@example.test")
    basic = await verified_client(db, settings, "basic@example.test", passport_expires=far, approve=False)
    full = await verified_client(db, settings, "full@example.test", passport_expires=far)
    async with db.session() as session:
        levels = {c: (await session.get(KycCase, c)) for c in (basic, full)}
        assert levels[basic] is not None
        assert levels[basic].level is KycLevel.BASIC
        assert levels[full] is not None
        assert levels[full].level is KycLevel.FULL

        for client_id, required in ((nobody, KycLevel.FULL), (basic, KycLevel.FULL)):
            with pytest.raises(KycLevelRequiredError) as refused:
                await open_live_account(session, client_id, gate=gates.live_account)
            assert refused.value.required == required
            with pytest.raises(KycLevelRequiredError, match="withdrawing"):
                await gates.withdrawal(session, client_id)
        assert await open_live_account(session, full, gate=gates.live_account) == "opened"
        await gates.withdrawal(session, full)

        with pytest.raises(KycLevelRequiredError) as refused:
            await deposit(session, nobody, 100, 0, gate=gates.deposit)
        assert refused.value.required == KycLevel.BASIC
        assert await deposit(session, basic, 200_000, 0, gate=gates.deposit) == "credited"
        with pytest.raises(KycLevelRequiredError, match="above 2000 USD") as refused:
            await deposit(session, basic, 1, 200_000, gate=gates.deposit)
        assert refused.value.required == KycLevel.FULL
        assert await deposit(session, full, 50_000_000, 10_000_000, gate=gates.deposit) == "credited"
