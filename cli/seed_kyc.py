"""Demo KYC data: obviously fake clients at different stages of verification, with tiny generated
images and PDFs as their documents (stored encrypted like real uploads). Idempotent: a client that
exists already is left as it is."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

from sqlalchemy import select

from cli.seed_identity import DEMO_CLIENT_PASSWORD, DEMO_DOMAIN, demo_client
from core import clock
from core.db import Database
from core.identity.models import CLIENT, User
from core.identity.passwords import hash_password
from core.settings import Settings
from core.storage import EncryptedFileStore
from kyc import documents, review
from kyc.config import QuestionnaireConfig
from kyc.models import DocumentKind, DocumentSide
from kyc.profile import ProfileInput, add_profile_version
from kyc.questionnaire import submit_questionnaire

DEMO_REVIEWER_ID = 0
"""Demo decisions are recorded as made by the system, not by a seeded staff member."""


def tiny_png(marker: bytes = b"") -> bytes:
    """A real 1x1 PNG; ``marker`` goes into a text chunk so that files differ."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x0b\x5f\xff")
    text = chunk(b"tEXt", b"Comment\x00" + marker) if marker else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + text + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def tiny_pdf(text: str = "Demo proof of address") -> bytes:
    """A one-page PDF with ``text`` as a comment: enough to be sniffed and opened."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
        + f"% {text}\n".encode()
        + b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def _profile(first_name: str) -> ProfileInput:
    return ProfileInput(
        first_name=first_name,
        last_name="Example",
        birth_date="1990-04-01",
        nationality="GB",
        country_of_residence="GB",
        address_line="1 Example Street",
        city="Exampleton",
        postal_code="EX1 1AA",
        phone="+442079460000",
        tax_residence="GB",
        tin="DEMO123456",
        employment_status="employed",
        source_of_funds="salary",
    )


STAGES = (
    ("kyc-basic", "Basic", "profile and questionnaire done: level basic"),
    ("kyc-review", "Review", "documents submitted: waiting in the compliance queue"),
    ("kyc-verified", "Verified", "documents approved: level full"),
)


async def add_client(
    database: Database, settings: Settings, store: EncryptedFileStore, local: str, first_name: str, stage: int
) -> int | None:
    """A demo client at ``stage`` (an index of :data:`STAGES`); ``None`` when they exist already."""
    email = f"{local}@{DEMO_DOMAIN}"
    async with database.transaction() as session:
        if await session.scalar(select(User).where(User.kind == CLIENT, User.email == email)):
            return None
        now = clock.utcnow()
        user = demo_client(email, f"Demo {first_name}", await hash_password(settings, DEMO_CLIENT_PASSWORD))
        session.add(user)
        await session.flush()
        await add_profile_version(session, user.id, _profile(first_name), actor_id=user.id, today=now.date())
        answers = {
            q.key: max(q.choices, key=lambda c: c.points).value for q in QuestionnaireConfig().questions
        }
        await submit_questionnaire(session, user.id, answers)
        await review.refresh_case(session, user.id, user.id, now)
        if stage == 0:
            return user.id
        expires = now.date() + timedelta(days=3 * 365)
        for kind, side, name, data, expires_on in (
            (DocumentKind.PASSPORT, DocumentSide.SINGLE, "passport.png", tiny_png(b"demo passport"), expires),
            (DocumentKind.PROOF_OF_ADDRESS, DocumentSide.SINGLE, "utility-bill.pdf", tiny_pdf(), None),
            (DocumentKind.SELFIE, DocumentSide.SINGLE, "selfie.png", tiny_png(b"demo selfie"), None),
        ):
            await documents.upload_document(
                session,
                store,
                client_id=user.id,
                kind=kind,
                side=side,
                filename=name,
                data=data,
                expires_on=expires_on,
                max_bytes=settings.max_upload_bytes,
                today=now.date(),
            )
        await review.submit_for_review(session, user.id, user.id, now)
        if stage == 2:
            for document in await documents.client_documents(session, user.id):
                await review.review_document(
                    session, document.id, DEMO_REVIEWER_ID, approve=True, reason=None, now=now
                )
            await review.decide(session, user.id, DEMO_REVIEWER_ID, approve=True, reason="demo", now=now)
        return user.id


VERIFIED = 2
"""The index in :data:`STAGES` of a fully verified client."""


async def seed_kyc(database: Database, settings: Settings) -> list[str]:
    store = EncryptedFileStore.from_settings(settings)
    lines = [f"KYC demo clients (password {DEMO_CLIENT_PASSWORD}):"]
    for stage, (local, first_name, description) in enumerate(STAGES):
        lines.append(f"  {local + '@' + DEMO_DOMAIN:<40} {description}")
        await add_client(database, settings, store, local, first_name, stage)
    return lines
