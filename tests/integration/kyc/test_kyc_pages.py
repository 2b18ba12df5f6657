"""The KYC path over HTTP, as a browser drives it: the client's wizard, questionnaire, uploads and
submission in the portal; the reviewer's queue, document and case decisions in the back office."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from cli.seed_kyc import tiny_pdf, tiny_png
from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from kyc.config import QuestionnaireConfig
from kyc.models import CaseStatus, DocumentStatus, KycCase, KycDocument, KycLevel, KycProfileVersion
from tests.apps import backoffice_app, portal_app
from tests.helpers import (
    client_sign_in,
    csrf_from,
    latest_mail,
    make_client,
    make_staff,
    staff_sign_in,
    submit,
)
from tests.integration.kyc.conftest import MAX_UPLOAD

PROFILE_STEPS: dict[str, dict[str, str]] = {
    "identity": {
        "first_name": "Demo",
        "last_name": "Trader",
        "birth_date": "1990-04-01",
        "nationality": "GB",
    },
    "address": {
        "country_of_residence": "GB",
        "address_line": "1 Example Street",
        "city": "Exampleton",
        "postal_code": "EX1 1AA",
        "phone": "+44 20 7946 0000",
    },
    "tax": {"tax_residence": "GB", "tin": "AB123456C"},
    "finances": {"employment_status": "employed", "source_of_funds": "salary"},
}


def stored_files(root: str) -> list[Path]:
    """Every file under the store's folder (none when nothing was ever stored)."""
    return [p for p in Path(root).rglob("*") if p.is_file()]


def best_answers() -> dict[str, str]:
    return {q.key: max(q.choices, key=lambda c: c.points).value for q in QuestionnaireConfig().questions}


def worst_answers() -> dict[str, str]:
    return {q.key: min(q.choices, key=lambda c: c.points).value for q in QuestionnaireConfig().questions}


async def fill_profile(client: AsyncTestClient, changes: dict[str, str] | None = None) -> None:
    """Every wizard step with valid answers; ``changes`` replaces fields wherever they belong."""
    changes = changes or {}
    for step, defaults in PROFILE_STEPS.items():
        values = {**defaults, **{k: v for k, v in changes.items() if k in defaults or step == "finances"}}
        if step != "finances":
            values = {k: v for k, v in values.items() if k in defaults}
        response = await submit(client, f"/kyc/profile/{step}", f"/kyc/profile/{step}", values)
        assert response.status_code == 303, response.text
    assert response.headers["location"] == "/kyc"


async def upload(
    client: AsyncTestClient,
    kind: str,
    side: str,
    name: str,
    data: bytes,
    content_type: str,
    expires_on: str = "",
) -> Any:
    token = csrf_from((await client.get("/kyc/documents")).text)
    return await client.post(
        "/kyc/documents",
        data={"_csrf_token": token, "kind": kind, "side": side, "expires_on": expires_on},
        files={"file": (name, data, content_type)},
        follow_redirects=False,
    )


async def onboard_over_http(client: AsyncTestClient, **changes: str) -> None:
    """The client's side of the path: wizard, questionnaire, documents, submission."""
    await fill_profile(client, changes)
    answered = await submit(client, "/kyc/questionnaire", "/kyc/questionnaire", best_answers())
    assert answered.status_code == 303, answered.text
    for kind, side, name, data, content_type, expires in (
        ("national_id", "front", "id-front.png", tiny_png(b"front"), "image/png", "2031-05-01"),
        ("national_id", "back", "id-back.png", tiny_png(b"back"), "image/png", "2031-05-01"),
        ("proof_of_address", "single", "bill.pdf", tiny_pdf(), "application/pdf", ""),
        ("selfie", "single", "me.png", tiny_png(b"selfie"), "image/png", ""),
    ):
        response = await upload(client, kind, side, name, data, content_type, expires)
        assert response.status_code == 303, response.text
    submitted = await submit(client, "/kyc", "/kyc/submit", {})
    assert submitted.status_code == 303
    assert "waiting for review" in (await client.get("/kyc")).text


async def documents_of(db: Database, client_id: int) -> list[KycDocument]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(KycDocument).where(KycDocument.client_id == client_id).order_by(KycDocument.id)
            )
        )


async def case_of(db: Database, client_id: int) -> KycCase:
    async with db.session() as session:
        case = await session.get(KycCase, client_id)
    assert case is not None
    return case


async def review_all_documents(staff: AsyncTestClient, db: Database, client_id: int) -> None:
    for document in await documents_of(db, client_id):
        response = await submit(
            staff, f"/kyc/{client_id}", f"/kyc/documents/{document.id}/review", {"decision": "approve"}
        )
        assert response.status_code == 303, response.text


async def signed_in_portal(settings: Settings, db: Database, email: str) -> tuple[AsyncTestClient, int]:
    client_id = await make_client(db, settings, email)
    client = AsyncTestClient(app=portal_app(settings, db))
    await client.__aenter__()
    signed = await client_sign_in(client, email)
    assert signed.status_code == 303
    return client, client_id


async def signed_in_staff(settings: Settings, db: Database, email: str, roles: list[str]) -> AsyncTestClient:
    _id, secret = await make_staff(db, settings, email, roles)
    assert secret
    staff = AsyncTestClient(app=backoffice_app(settings, db))
    await staff.__aenter__()
    await staff_sign_in(staff, email, secret)
    return staff


async def test_whole_kyc_path_over_http(settings: Settings, db: Database) -> None:
    client, client_id = await signed_in_portal(settings, db, "trader@example.test")
    staff = await signed_in_staff(settings, db, "reviewer@staff.test", ["compliance"])
    try:
        overview = await client.get("/kyc")
        assert overview.status_code == 200
        assert 'data-level="none"' in overview.text
        assert 'href="/kyc"' in overview.text  # the "Verification" navigation item

        await onboard_over_http(client)
        async with db.session() as session:
            profile = await session.scalar(
                select(KycProfileVersion).where(KycProfileVersion.client_id == client_id)
            )
        assert profile is not None
        assert (profile.version, profile.city, profile.phone) == (1, "Exampleton", "+442079460000")
        case = await case_of(db, client_id)
        assert (case.status, case.level) == (CaseStatus.SUBMITTED, KycLevel.BASIC)

        queue = await staff.get("/kyc")
        assert queue.status_code == 200
        assert "trader@example.test" in queue.text
        page = await staff.get(f"/kyc/{client_id}")
        assert page.status_code == 200
        assert "Exampleton" in page.text
        docs = await documents_of(db, client_id)
        assert f'<img class="document-preview" src="/kyc/documents/{docs[0].id}/file"' in page.text
        pdf = next(d for d in docs if d.content_type == "application/pdf")
        assert f'href="/kyc/documents/{pdf.id}/file"' in page.text

        await review_all_documents(staff, db, client_id)
        assert {d.status for d in await documents_of(db, client_id)} == {DocumentStatus.APPROVED}
        decided = await submit(
            staff, f"/kyc/{client_id}", f"/kyc/{client_id}/decide", {"decision": "approve", "reason": ""}
        )
        assert decided.status_code == 303, decided.text

        case = await case_of(db, client_id)
        assert (case.status, case.level) == (CaseStatus.APPROVED, KycLevel.FULL)
        assert 'data-level="full"' in (await client.get("/kyc")).text
        mail = await latest_mail(db, "trader@example.test")
        assert mail.template == "kyc_decision"
        assert "verified" in mail.subject.lower()
        async with db.session() as session:
            events = list(
                await session.scalars(select(AuditEvent).where(AuditEvent.action.startswith("kyc.")))
            )
        approved = [e for e in events if e.action == "kyc.case_approved"]
        assert len(approved) == 1
        assert approved[0].before == {"status": "submitted", "level": "basic"}
        assert approved[0].after is not None
        assert approved[0].after["level"] == "full"
        assert approved[0].actor_email == "reviewer@staff.test"
        assert len([e for e in events if e.action == "kyc.document_approved"]) == 4
        assert "reviewer@staff.test" not in {
            e.actor_email for e in events if e.action == "kyc.document_uploaded"
        }

        # a profile changed after approval needs review again
        moved = await submit(
            client,
            "/kyc/profile/address",
            "/kyc/profile/address",
            {**PROFILE_STEPS["address"], "city": "Newtown"},
        )
        assert moved.status_code == 303
        for step in ("tax", "finances"):
            saved = await submit(client, f"/kyc/profile/{step}", f"/kyc/profile/{step}", PROFILE_STEPS[step])
            assert saved.status_code == 303
        case = await case_of(db, client_id)
        assert (case.status, case.level) == (CaseStatus.SUBMITTED, KycLevel.BASIC)
        assert "Newtown" in (await staff.get(f"/kyc/{client_id}")).text
        assert "trader@example.test" in (await staff.get("/kyc")).text
    finally:
        await client.__aexit__(None, None, None)
        await staff.__aexit__(None, None, None)


async def test_wizard_refuses_bad_fields_with_messages_beside_them(
    portal_client: AsyncTestClient, settings: Settings, db: Database
) -> None:
    await make_client(db, settings, "young@example.test")
    await client_sign_in(portal_client, "young@example.test")
    too_young = await submit(
        portal_client,
        "/kyc/profile/identity",
        "/kyc/profile/identity",
        {**PROFILE_STEPS["identity"], "birth_date": "2015-06-01"},
    )
    assert too_young.status_code == 400
    assert "You must be at least 18 years old." in too_young.text
    assert 'id="e-birth_date"' in too_young.text
    impossible = await submit(
        portal_client,
        "/kyc/profile/identity",
        "/kyc/profile/identity",
        {**PROFILE_STEPS["identity"], "birth_date": "1990-02-30", "nationality": "XX"},
    )
    assert impossible.status_code == 400
    assert "Enter a real date as YYYY-MM-DD." in impossible.text
    assert "Choose a country from the list." in impossible.text
    bad_phone = await submit(
        portal_client,
        "/kyc/profile/address",
        "/kyc/profile/address",
        {**PROFILE_STEPS["address"], "phone": "0794"},
    )
    assert bad_phone.status_code == 400
    assert "international format" in bad_phone.text
    skipped = await submit(
        portal_client, "/kyc/profile/finances", "/kyc/profile/finances", PROFILE_STEPS["finances"]
    )
    assert skipped.status_code == 303
    assert skipped.headers["location"] == "/kyc/profile/identity"
    assert (
        "Some answers of an earlier step are missing or invalid."
        in (await portal_client.get("/kyc/profile/identity")).text
    )
    async with db.session() as session:
        assert await session.scalar(select(KycProfileVersion)) is None


async def test_country_select_is_iso_3166_in_the_visitors_language(
    portal_client: AsyncTestClient, settings: Settings, db: Database
) -> None:
    await make_client(db, settings, "lang@example.test")
    await client_sign_in(portal_client, "lang@example.test")
    english = (await portal_client.get("/kyc/profile/identity")).text
    assert '<option value="CN">China</option>' in english
    assert len(re.findall(r'<option value="[A-Z]{2}"', english)) == 249
    chinese = (await portal_client.get("/kyc/profile/identity", headers={"accept-language": "zh-CN"})).text
    assert '<option value="CN">中国</option>' in chinese
    assert "出生日期" in chinese
    questionnaire = (await portal_client.get("/kyc/questionnaire", headers={"accept-language": "zh-CN"})).text
    assert "价格反向变动 1% 会使您的保证金变动约" in questionnaire
    assert "您交易杠杆产品" in questionnaire


async def test_low_score_needs_the_confirm_checkbox(
    portal_client: AsyncTestClient, settings: Settings, db: Database
) -> None:
    await make_client(db, settings, "novice@example.test")
    await client_sign_in(portal_client, "novice@example.test")
    first = await submit(portal_client, "/kyc/questionnaire", "/kyc/questionnaire", worst_answers())
    assert first.status_code == 400
    assert "may not be appropriate for you" in first.text
    assert 'name="acknowledge"' in first.text
    confirmed = await submit(
        portal_client, "/kyc/questionnaire", "/kyc/questionnaire", {**worst_answers(), "acknowledge": "yes"}
    )
    assert confirmed.status_code == 303
    missing = await submit(portal_client, "/kyc/questionnaire", "/kyc/questionnaire", {})
    assert missing.status_code == 400
    assert "Please choose one of the answers." in missing.text


async def test_renamed_executable_and_oversized_files_are_refused(
    portal_client: AsyncTestClient, settings: Settings, db: Database
) -> None:
    client_id = await make_client(db, settings, "uploader@example.test")
    await client_sign_in(portal_client, "uploader@example.test")
    executable = (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 2000 + b"This program cannot be run in DOS mode"
    )
    renamed = await upload(
        portal_client, "passport", "single", "passport.jpg", executable, "image/jpeg", "2031-01-01"
    )
    assert renamed.status_code == 400
    assert "Only JPEG, PNG and PDF files are accepted" in renamed.text

    just_over = tiny_png() + b"\x00" * MAX_UPLOAD
    too_big = await upload(portal_client, "selfie", "single", "selfie.png", just_over, "image/png")
    assert too_big.status_code == 400
    assert "The file is larger than 0.0625 MB" in too_big.text

    huge = tiny_png() + b"\x00" * (2 * 1024 * 1024)
    refused = await upload(portal_client, "selfie", "single", "huge.png", huge, "image/png")
    assert refused.status_code == 413
    assert "The upload is larger than we accept" in refused.text
    assert "Traceback" not in refused.text

    expired = await upload(
        portal_client, "passport", "single", "p.png", tiny_png(), "image/png", "2020-01-01"
    )
    assert expired.status_code == 400
    assert "This document has expired." in expired.text

    no_token = await portal_client.post(
        "/kyc/documents",
        data={"kind": "selfie", "side": "single"},
        files={"file": ("me.png", tiny_png(), "image/png")},
        follow_redirects=False,
    )
    assert no_token.status_code == 403

    assert await documents_of(db, client_id) == []
    assert stored_files(settings.storage_dir) == []


async def test_stored_file_is_not_plaintext_and_is_served_only_to_its_owner(
    settings: Settings, db: Database
) -> None:
    owner, owner_id = await signed_in_portal(settings, db, "owner@example.test")
    other, _other_id = await signed_in_portal(settings, db, "other@example.test")
    try:
        marker = b"OWNER-SECRET-PASSPORT-PIXELS"
        data = tiny_png(marker)
        response = await upload(owner, "passport", "single", "pass.png", data, "image/png", "2031-01-01")
        assert response.status_code == 303
        (document,) = await documents_of(db, owner_id)

        stored = stored_files(settings.storage_dir)
        assert len(stored) == 1
        on_disk = stored[0].read_bytes()
        assert marker not in on_disk
        assert b"IHDR" not in on_disk
        assert document.storage_key in str(stored[0])

        mine = await owner.get(f"/kyc/documents/{document.id}/file")
        assert mine.status_code == 200
        assert mine.content == data
        assert mine.headers["content-type"] == "image/png"
        assert mine.headers["cache-control"] == "no-store"
        assert mine.headers["x-content-type-options"] == "nosniff"
        assert mine.headers["content-disposition"] == 'attachment; filename="pass.png"'

        theirs = await other.get(f"/kyc/documents/{document.id}/file")
        assert theirs.status_code == 404
        assert marker not in theirs.content
        assert (await other.get(f"/kyc/documents/{document.id + 1}/file")).status_code == 404
        assert "pass.png" not in (await other.get("/kyc/documents")).text

        for path in (
            f"/static/{document.storage_key}",
            f"/files/{document.storage_key}",
            f"/static/files/{document.storage_key[:2]}/{document.storage_key}",
        ):
            assert (await owner.get(path)).status_code == 404
    finally:
        await owner.__aexit__(None, None, None)
        await other.__aexit__(None, None, None)


async def test_staff_route_needs_kyc_review(settings: Settings, db: Database) -> None:
    owner, owner_id = await signed_in_portal(settings, db, "owner2@example.test")
    support = await signed_in_staff(settings, db, "support@staff.test", ["support"])
    reviewer = await signed_in_staff(settings, db, "compliance@staff.test", ["compliance"])
    try:
        data = tiny_pdf("Proof of address of owner2")
        assert (
            await upload(owner, "proof_of_address", "single", "bill.pdf", data, "application/pdf")
        ).status_code == 303
        (document,) = await documents_of(db, owner_id)
        denied = await support.get(f"/kyc/documents/{document.id}/file")
        assert denied.status_code == 403
        assert data not in denied.content
        allowed = await reviewer.get(f"/kyc/documents/{document.id}/file")
        assert allowed.status_code == 200
        assert allowed.content == data
        assert allowed.headers["content-disposition"].startswith("attachment;")
        assert allowed.headers["cache-control"] == "no-store"
        assert (await reviewer.get(f"/kyc/documents/{document.id + 99}/file")).status_code == 404
        # the owner still reads their own file in the portal
        assert (await owner.get(f"/kyc/documents/{document.id}/file")).status_code == 200
    finally:
        for each in (owner, support, reviewer):
            await each.__aexit__(None, None, None)
