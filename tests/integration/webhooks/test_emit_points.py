"""Each emit point records its domain event in the transaction of the change, with ids and facts
only; a change that is refused records nothing. (Trading accounts: tests/integration/mt_bridge/
test_account_opened_event.py, beside the emulator fixtures.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backoffice.crm_work import CRM_MAILER
from cashier import withdrawals
from cashier.errors import InvalidStateError
from cashier.gates import Gates
from cashier.models import DestinationKind
from cashier.withdrawals import Destination
from core.audit.service import Actor
from core.db import Database
from core.events import DomainEvent, EventKind
from core.settings import Settings
from core.storage import EncryptedFileStore
from crm import leads
from crm.scope import DataScope, ScopeKind
from ib import payouts
from ib.engine import process_deals
from kyc import review
from tests.helpers import make_staff
from tests.integration.cashier.conftest import CLIENT, FINANCE, POLICY, fund_by_wire
from tests.integration.cashier.test_withdrawals import verified_account
from tests.integration.ib.test_recompute_and_payouts import two_levels
from tests.integration.ib.world import DAY1, SERVER, STAFF, deal
from tests.integration.kyc.test_kyc_flow import NOW, REVIEWER, approve_all_documents, onboard

pytestmark = pytest.mark.asyncio


@pytest.fixture
def store(tmp_path: Path) -> EncryptedFileStore:
    return EncryptedFileStore(tmp_path / "files", b"k" * 32)


async def events(db: Database, kind: EventKind | None = None) -> list[dict[str, Any]]:
    async with db.session() as session:
        query = select(DomainEvent).order_by(DomainEvent.id)
        if kind is not None:
            query = query.where(DomainEvent.kind == kind.value)
        return [{"kind": e.kind, **e.payload} for e in await session.scalars(query)]


async def test_kyc_approval_and_rejection(db: Database, store: EncryptedFileStore) -> None:
    await onboard(db, store, 101)
    await onboard(db, store, 202)
    await approve_all_documents(db, 101, REVIEWER)
    async with db.transaction() as session:
        await review.decide(session, 101, REVIEWER, approve=True, reason=None, now=NOW)
        await review.decide(session, 202, REVIEWER, approve=False, reason="blurred ID", now=NOW)
    assert await events(db) == [
        {"kind": "kyc.approved", "client_id": 101, "level": "full"},
        {"kind": "kyc.rejected", "client_id": 202},
    ]


async def test_deposit_completed_and_withdrawal_paid(db: Database, store: EncryptedFileStore) -> None:
    deposit_id = await fund_by_wire(db, store, 601, 300_000)
    assert await events(db) == [
        {
            "kind": "deposit.completed",
            "deposit_id": deposit_id,
            "client_id": 601,
            "method": "wire",
            "currency": "USD",
            "amount": 300_000,
            "credited_amount": 300_000,
        }
    ]
    account_id = await verified_account(db, 601)
    withdrawal = await withdrawals.request_withdrawal(
        db,
        Gates(),
        POLICY,
        client_id=601,
        currency="USD",
        amount=20_000,
        destination=Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=account_id),
        idempotency_key="wd-event-0001",
        actor=CLIENT,
    )
    await withdrawals.approve_withdrawal(db, withdrawal.id, POLICY, FINANCE)
    assert await events(db, EventKind.WITHDRAWAL_PAID) == []  # approved is not paid
    with pytest.raises(InvalidStateError):
        await withdrawals.mark_paid_by_wire(db, withdrawal.id, "", FINANCE)
    assert await events(db, EventKind.WITHDRAWAL_PAID) == []
    await withdrawals.mark_paid_by_wire(db, withdrawal.id, "BANKREF-9", FINANCE)
    [paid] = await events(db, EventKind.WITHDRAWAL_PAID)
    assert paid == {
        "kind": "withdrawal.paid",
        "withdrawal_id": withdrawal.id,
        "client_id": 601,
        "destination_kind": "bank_account",
        "currency": "USD",
        "amount": 20_000,
        "fee_amount": withdrawal.fee_amount,
    }


async def test_ib_commission_paid_at_once_and_when_a_held_payout_is_released(db: Database) -> None:
    world = await two_levels(db)
    async with db.transaction() as session:
        await payouts.set_policy(session, world.ids["B"], frequency="instant", actor=STAFF, now=DAY1)
        await payouts.set_policy(
            session, world.ids["A"], frequency="instant", hold_for_review=True, actor=STAFF, now=DAY1
        )
    await process_deals(db, SERVER, [deal(1, 5100, lots="1"), deal(2, 5101, lots="1")])
    [instant] = await payouts.pay_out(db, world.ids["B"], now=DAY1)
    [held] = await payouts.pay_out(db, world.ids["A"], now=DAY1)
    assert held.status == "held"
    assert await events(db, EventKind.IB_COMMISSION_PAID) == [
        {
            "kind": "ib_commission.paid",
            "payout_id": instant.id,
            "partner_id": world.ids["B"],
            "client_id": 2,
            "currency": "USD",
            "amount": instant.amount,
        }
    ]
    await payouts.decide(db, held.id, approve=True, actor=STAFF, reason="checked")
    released = (await events(db, EventKind.IB_COMMISSION_PAID))[-1]
    assert (released["payout_id"], released["partner_id"], released["client_id"]) == (
        held.id,
        world.ids["A"],
        1,
    )


async def test_a_lead_converted_into_a_new_client_is_a_registration_too(
    db: Database, settings: Settings
) -> None:
    staff_id, _ = await make_staff(db, settings, "sales@example.test", ["support"])
    actor = Actor(id=staff_id, email="sales@example.test", kind="staff")
    scope = DataScope(staff_id, ScopeKind.ALL, "", frozenset())
    async with db.transaction() as session:
        lead = await leads.create_lead(
            session,
            actor,
            scope,
            {"email": "lead.client@example.test", "name": "Lead Client", "language": "zh_Hans"},
            None,
        )
        await leads.change_status(session, actor, scope, lead.id, "contacted")
        await leads.change_status(session, actor, scope, lead.id, "qualified")
        conversion = await leads.convert_lead(session, settings, CRM_MAILER, actor, scope, lead.id)
    assert conversion.created_client
    assert await events(db, EventKind.CLIENT_REGISTERED) == [
        {
            "kind": "client.registered",
            "client_id": conversion.client_id,
            "language": "zh_Hans",
            "source": "lead",
        }
    ]
