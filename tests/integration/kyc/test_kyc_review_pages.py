"""Compliance over HTTP: the queue's order and filters, four eyes, rejections mailed in the client's
language, risk overrides, KYC settings, and the sandbox vendor's signed webhooks."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from sqlalchemy import select, update

from core.audit.models import AuditEvent
from core.db import Database
from core.identity.models import User
from core.settings import Settings
from kyc.config import load_country_lists, load_questionnaire
from kyc.models import CaseStatus, KycCase, KycLevel, KycProviderEvent, RiskLevel
from kyc.providers import SIGNATURE_HEADER, sign
from kyc.sandbox import Applicant, KycSandbox
from tests.helpers import latest_mail, submit
from tests.integration.kyc.conftest import SANDBOX_SECRET
from tests.integration.kyc.test_kyc_pages import (
    case_of,
    onboard_over_http,
    review_all_documents,
    signed_in_portal,
    signed_in_staff,
)


async def audit_events(db: Database, action: str) -> list[AuditEvent]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


async def test_four_eyes_for_a_high_risk_client(settings: Settings, db: Database) -> None:
    client, client_id = await signed_in_portal(settings, db, "pep@example.test")
    first = await signed_in_staff(settings, db, "first@staff.test", ["compliance"])
    second = await signed_in_staff(settings, db, "second@staff.test", ["compliance"])
    try:
        await onboard_over_http(client, is_pep="yes")
        assert (await case_of(db, client_id)).risk_level is RiskLevel.HIGH
        await review_all_documents(first, db, client_id)

        once = await submit(first, f"/kyc/{client_id}", f"/kyc/{client_id}/decide", {"decision": "approve"})
        assert once.status_code == 303
        case = await case_of(db, client_id)
        assert (case.status, case.level) == (CaseStatus.AWAITING_SECOND_REVIEW, KycLevel.BASIC)
        page = await first.get(f"/kyc/{client_id}")
        assert "a second reviewer must now confirm" in page.text

        again = await submit(first, f"/kyc/{client_id}", f"/kyc/{client_id}/decide", {"decision": "approve"})
        assert again.status_code == 303
        refused = await first.get(f"/kyc/{client_id}")
        assert "A second, different reviewer must confirm this high-risk client." in refused.text
        assert (await case_of(db, client_id)).status is CaseStatus.AWAITING_SECOND_REVIEW

        confirmed = await submit(
            second,
            f"/kyc/{client_id}",
            f"/kyc/{client_id}/decide",
            {"decision": "approve", "reason": "EDD done"},
        )
        assert confirmed.status_code == 303
        case = await case_of(db, client_id)
        assert (case.status, case.level) == (CaseStatus.APPROVED, KycLevel.FULL)
        assert case.first_reviewer_id != case.second_reviewer_id
        assert [e.actor_email for e in await audit_events(db, "kyc.case_first_approval")] == [
            "first@staff.test"
        ]
        assert [e.actor_email for e in await audit_events(db, "kyc.case_approved")] == ["second@staff.test"]
        assert (await latest_mail(db, "pep@example.test")).template == "kyc_decision"
    finally:
        for each in (client, first, second):
            await each.__aexit__(None, None, None)


async def test_rejections_are_audited_and_mailed_in_the_clients_language(
    settings: Settings, db: Database
) -> None:
    client, client_id = await signed_in_portal(settings, db, "zh@example.test")
    staff = await signed_in_staff(settings, db, "reviewer@staff.test", ["compliance"])
    try:
        async with db.transaction() as session:
            await session.execute(update(User).where(User.id == client_id).values(language="zh_Hans"))
        await onboard_over_http(client)
        page = await staff.get(f"/kyc/{client_id}")
        document_id = int(page.text.split('action="/kyc/documents/')[1].split("/")[0])

        no_reason = await submit(
            staff,
            f"/kyc/{client_id}",
            f"/kyc/documents/{document_id}/review",
            {"decision": "reject", "reason": "", "reason_other": " "},
        )
        assert no_reason.status_code == 303
        assert "Give a reason for the rejection." in (await staff.get(f"/kyc/{client_id}")).text

        rejected = await submit(
            staff,
            f"/kyc/{client_id}",
            f"/kyc/documents/{document_id}/review",
            {"decision": "reject", "reason": "The document is unreadable or blurred."},
        )
        assert rejected.status_code == 303
        mail = await latest_mail(db, "zh@example.test")
        assert mail.template == "kyc_document_reviewed"
        assert mail.subject == "您的证件未被接受"
        assert "文件无法辨认或模糊不清。" in mail.text_body
        (event,) = await audit_events(db, "kyc.document_rejected")
        assert event.before == {"status": "pending", "client_id": client_id}
        assert event.after == {"status": "rejected", "reason": "The document is unreadable or blurred."}

        decided = await submit(
            staff,
            f"/kyc/{client_id}",
            f"/kyc/{client_id}/decide",
            {
                "decision": "reject",
                "reason": "x",
                "reason_other": "Please send a colour scan of your ID card.",
            },
        )
        assert decided.status_code == 303
        case = await case_of(db, client_id)
        assert (case.status, case.decision_reason) == (
            CaseStatus.REJECTED,
            "Please send a colour scan of your ID card.",
        )
        mail = await latest_mail(db, "zh@example.test")
        assert (mail.template, mail.subject) == ("kyc_decision", "我们未能验证您的身份")
        assert "Please send a colour scan of your ID card." in mail.text_body
        (event,) = await audit_events(db, "kyc.case_rejected")
        assert event.before == {"status": "submitted", "level": "basic"}
        assert event.after is not None
        assert event.after["status"] == "rejected"
        overview = await client.get("/kyc")
        assert "Please send a colour scan of your ID card." in overview.text
    finally:
        await client.__aexit__(None, None, None)
        await staff.__aexit__(None, None, None)


async def test_queue_oldest_first_with_filters_and_risk_override(settings: Settings, db: Database) -> None:
    staff = await signed_in_staff(settings, db, "reviewer@staff.test", ["compliance"])
    clients = []
    try:
        for email, nationality in (("gb@example.test", "GB"), ("de@example.test", "DE")):
            client, _client_id = await signed_in_portal(settings, db, email)
            clients.append(client)
            await onboard_over_http(client, nationality=nationality, country_of_residence=nationality)
        async with db.transaction() as session:  # the German client has waited longer
            ids = {u.email: u.id for u in await session.scalars(select(User).where(User.kind == "client"))}
            old = datetime.now(UTC) - timedelta(days=3)
            await session.execute(
                update(KycCase).where(KycCase.client_id == ids["de@example.test"]).values(submitted_at=old)
            )

        queue = (await staff.get("/kyc")).text
        assert queue.index("de@example.test") < queue.index("gb@example.test")
        assert "3 d" in queue
        only_gb = (await staff.get("/kyc?country=GB")).text
        assert "gb@example.test" in only_gb
        assert "de@example.test" not in only_gb
        assert "No cases match." in (await staff.get("/kyc?risk=high")).text
        assert "No cases match." in (await staff.get("/kyc?status=approved")).text

        gb = ids["gb@example.test"]
        no_reason = await submit(staff, f"/kyc/{gb}", f"/kyc/{gb}/risk", {"level": "high", "reason": ""})
        assert no_reason.status_code == 303
        assert "Give a reason for the risk override." in (await staff.get(f"/kyc/{gb}")).text
        overridden = await submit(
            staff, f"/kyc/{gb}", f"/kyc/{gb}/risk", {"level": "high", "reason": "adverse media"}
        )
        assert overridden.status_code == 303
        assert (await case_of(db, gb)).effective_risk is RiskLevel.HIGH
        (event,) = await audit_events(db, "kyc.risk_overridden")
        assert event.before == {"risk_override": None, "effective": "low"}
        assert event.after == {"risk_override": "high", "effective": "high", "reason": "adverse media"}
        high = (await staff.get("/kyc?risk=high")).text
        assert "gb@example.test" in high
        assert "de@example.test" not in high
    finally:
        for each in (staff, *clients):
            await each.__aexit__(None, None, None)


async def test_kyc_settings_are_validated_and_audited(settings: Settings, db: Database) -> None:
    admin = await signed_in_staff(settings, db, "admin@staff.test", ["admin"])
    compliance = await signed_in_staff(settings, db, "compliance@staff.test", ["compliance"])
    try:
        assert (await compliance.get("/settings/kyc")).status_code == 403
        page = await admin.get("/settings/kyc")
        assert page.status_code == 200

        questions = [
            {
                "key": "exp",
                "text": "Have you traded CFDs?",
                "choices": [
                    {"value": "no", "label": "No", "points": 0},
                    {"value": "yes", "label": "Yes", "points": 5},
                ],
            },
        ]
        cases = [
            ({"questions": "not json", "threshold": "3"}, "The questions are not valid JSON."),
            (
                {"questions": json.dumps(questions), "threshold": "9"},
                "The threshold must be between 0 and 5.",
            ),
            (
                {"questions": json.dumps(questions), "threshold": "three"},
                "The threshold must be a whole number.",
            ),
            ({"questions": "[]", "threshold": "0"}, "The questionnaire needs at least one question."),
            (
                {"questions": json.dumps([{"key": "a"}]), "threshold": "0"},
                "Each question needs key, text and choices",
            ),
        ]
        for data, message in cases:
            refused = await submit(admin, "/settings/kyc", "/settings/kyc/questionnaire", data)
            assert refused.status_code == 400, data
            assert message in refused.text
        async with db.session() as session:
            assert (await load_questionnaire(session)).threshold == 7  # unchanged default

        saved = await submit(
            admin,
            "/settings/kyc",
            "/settings/kyc/questionnaire",
            {"questions": json.dumps(questions), "threshold": "3"},
        )
        assert saved.status_code == 303
        async with db.session() as session:
            stored = await load_questionnaire(session)
        assert (stored.threshold, [q.key for q in stored.questions]) == (3, ["exp"])
        (event,) = await audit_events(db, "kyc.settings_changed")
        assert event.before is not None
        assert event.before["threshold"] == 7
        assert event.after is not None
        assert event.after["threshold"] == 3

        bad = await submit(
            admin, "/settings/kyc", "/settings/kyc/countries", {"high_risk": "AF, ZZ, QQ", "blocked": "KP"}
        )
        assert bad.status_code == 400
        assert "Unknown country codes: QQ, ZZ" in bad.text
        good = await submit(
            admin, "/settings/kyc", "/settings/kyc/countries", {"high_risk": "af, ru", "blocked": "KP"}
        )
        assert good.status_code == 303
        async with db.session() as session:
            lists = await load_country_lists(session)
        assert (lists.high_risk, lists.blocked) == ({"AF", "RU"}, {"KP"})
        events = await audit_events(db, "kyc.settings_changed")
        assert events[-1].target_id == "countries"
        assert events[-1].before == {
            "high_risk": ["AF", "IR", "KP", "MM", "SY", "YE"],
            "blocked": ["IR", "KP"],
        }
        assert events[-1].after == {"high_risk": ["AF", "RU"], "blocked": ["KP"]}

        # the portal questionnaire now asks the new question
        client, _client_id = await signed_in_portal(settings, db, "asked@example.test")
        try:
            assert "Have you traded CFDs?" in (await client.get("/kyc/questionnaire")).text
        finally:
            await client.__aexit__(None, None, None)
    finally:
        await admin.__aexit__(None, None, None)
        await compliance.__aexit__(None, None, None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def sandbox() -> Iterator[tuple[KycSandbox, str]]:
    """The sandbox vendor, served by uvicorn on a loopback port."""
    vendor = KycSandbox(secret=SANDBOX_SECRET.encode(), retry_delays=())
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(vendor, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the sandbox did not start"
        time.sleep(0.02)
    yield vendor, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


async def test_provider_check_and_signed_webhooks(
    settings: Settings, db: Database, sandbox: tuple[KycSandbox, str]
) -> None:
    vendor, url = sandbox
    from dataclasses import replace

    settings = replace(settings, kyc_sandbox_url=url)
    client, client_id = await signed_in_portal(settings, db, "vendor@example.test")
    try:
        assert "Verify with our verification provider" not in (await client.get("/kyc")).text
        early = await submit(client, "/kyc", "/kyc/provider", {})
        assert early.status_code == 303  # nothing submitted yet
        assert vendor.applicants == {}
        await onboard_over_http(client)
        overview = await client.get("/kyc")
        assert "Verify with our verification provider" in overview.text

        started = await submit(client, "/kyc", "/kyc/provider", {})
        assert started.status_code == 303
        (applicant,) = vendor.applicants.values()
        assert started.headers["location"] == f"{url}/applicants/{applicant.id}"
        assert applicant.client_id == client_id
        assert applicant.callback_url == f"{settings.public_portal_url}/webhooks/kyc/sandbox"

        applicant.verdict = "green"
        headers, body = vendor.webhook(applicant)
        forged = {**headers, SIGNATURE_HEADER: sign(b"wrong-secret", int(time.time()), body)}
        bad = await client.post("/webhooks/kyc/sandbox", content=body, headers=forged)
        assert bad.status_code == 400
        assert bad.json()["detail"] == "bad signature"
        tampered = body.replace(b'"green"', b'"red"')
        assert (
            await client.post("/webhooks/kyc/sandbox", content=tampered, headers=headers)
        ).status_code == 400
        stale = {**headers, SIGNATURE_HEADER: sign(SANDBOX_SECRET.encode(), int(time.time()) - 3600, body)}
        assert (await client.post("/webhooks/kyc/sandbox", content=body, headers=stale)).status_code == 400
        assert (await client.post("/webhooks/kyc/sandbox", content=body)).status_code == 400
        assert (await case_of(db, client_id)).status is CaseStatus.SUBMITTED

        accepted = await client.post("/webhooks/kyc/sandbox", content=body, headers=headers)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json() == {"status": "applied"}
        case = await case_of(db, client_id)
        assert (case.status, case.level) == (CaseStatus.APPROVED, KycLevel.FULL)
        assert (await latest_mail(db, "vendor@example.test")).template == "kyc_decision"

        replay = await client.post("/webhooks/kyc/sandbox", content=body, headers=headers)
        assert replay.status_code == 400
        assert "replay" in replay.json()["detail"]
        async with db.session() as session:
            assert len(list(await session.scalars(select(KycProviderEvent)))) == 1
        assert len(await audit_events(db, "kyc.provider_green")) == 1

        # a later, valid event about a case that waits for nothing is acknowledged and changes nothing
        late = Applicant(id="late", client_id=client_id, callback_url="", verdict="red", reason="late")
        late_headers, late_body = vendor.webhook(late)
        ignored = await client.post("/webhooks/kyc/sandbox", content=late_body, headers=late_headers)
        assert ignored.json() == {"status": "ignored"}
        assert (await case_of(db, client_id)).status is CaseStatus.APPROVED
    finally:
        await client.__aexit__(None, None, None)
