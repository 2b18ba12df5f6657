"""The KYC demo seeder: fake clients at three stages, real encrypted documents, idempotent."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from cli.seed import SEEDERS, seed_demo
from cli.seed_kyc import seed_kyc
from core.db import Database
from core.identity.models import User
from core.settings import Settings
from core.storage import EncryptedFileStore
from kyc.models import CaseStatus, KycCase, KycDocument, KycLevel
from kyc.queue import QueueFilter, list_queue


def stored_files(root: str) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()]


async def test_kyc_demo_clients_at_three_stages_seeded_once(db: Database, settings: Settings) -> None:
    assert seed_kyc in SEEDERS
    first = await seed_demo(db, settings)
    second = await seed_demo(db, settings)
    assert first == second
    async with db.session() as session:
        users = {
            u.email: u.id for u in await session.scalars(select(User).where(User.email.startswith("kyc-")))
        }
        assert set(users) == {
            "kyc-basic@demo.brokerdesk.test",
            "kyc-review@demo.brokerdesk.test",
            "kyc-verified@demo.brokerdesk.test",
        }
        cases = {c.client_id: c for c in await session.scalars(select(KycCase))}
        assert (cases[users["kyc-basic@demo.brokerdesk.test"]].level) is KycLevel.BASIC
        review_case = cases[users["kyc-review@demo.brokerdesk.test"]]
        assert (review_case.status, review_case.level) == (CaseStatus.SUBMITTED, KycLevel.BASIC)
        verified = cases[users["kyc-verified@demo.brokerdesk.test"]]
        assert (verified.status, verified.level) == (CaseStatus.APPROVED, KycLevel.FULL)
        assert await session.scalar(select(func.count()).select_from(KycDocument)) == 6
        queue = await list_queue(session, QueueFilter())
        assert [row.email for row in queue] == ["kyc-review@demo.brokerdesk.test"]
        document = await session.scalar(
            select(KycDocument).where(KycDocument.content_type == "application/pdf")
        )
        assert document is not None
    files = stored_files(settings.storage_dir)
    assert len(files) == 6
    assert all(b"%PDF" not in f.read_bytes() for f in files)
    assert EncryptedFileStore.from_settings(settings).get(document.storage_key).startswith(b"%PDF-")
