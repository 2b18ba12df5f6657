"""Each risk rule raises exactly the alerts the seeded rows call for, none for clean data, and a
rerun (or a redelivered job) raises nothing twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cashier.models import DepositStatus, WithdrawalStatus
from core.audit.models import AuditEvent
from core.db import Database
from core.identity.models import STAFF
from kyc.models import DocumentKind
from ledger import fx
from risk import rules
from risk.engine import run_rule, run_rules
from risk.models import RiskAlert, RiskAlertClient, RiskRuleState
from tests.integration.risk.world import NOW, ago, risk_world

pytestmark = pytest.mark.asyncio


async def run(db: Database, rule: str, at=NOW):  # type: ignore[no-untyped-def]
    return await run_rule(db, rule, rules.RULES[rule], at)


async def alerts_of(db: Database, rule: str) -> list[RiskAlert]:
    async with db.session() as session:
        return list(
            await session.scalars(select(RiskAlert).where(RiskAlert.rule == rule).order_by(RiskAlert.id))
        )


async def clients_of(db: Database, alert_id: int) -> set[int]:
    async with db.session() as session:
        return set(
            await session.scalars(
                select(RiskAlertClient.client_id).where(RiskAlertClient.alert_id == alert_id)
            )
        )


async def test_deposit_then_withdrawal_without_trading(db: Database) -> None:
    world = await risk_world(db)
    idle = await world.client("idle")
    await world.account(idle)
    await world.deposit(idle, 100_000, ago(hours=5))
    idle_wd = await world.withdrawal(idle, 90_000, ago(hours=1))
    trader = await world.client("trader")
    login = await world.account(trader)
    await world.deposit(trader, 100_000, ago(hours=5))
    await world.trade(login, opened=ago(hours=4), closed=ago(hours=3), lots="2")
    await world.withdrawal(trader, 90_000, ago(hours=1))
    old = await world.client("old")
    await world.deposit(old, 100_000, ago(days=10))
    await world.withdrawal(old, 90_000, ago(hours=1))
    unpaid = await world.client("unpaid")
    await world.deposit(unpaid, 100_000, ago(hours=5), status=DepositStatus.AWAITING_PAYMENT)
    await world.withdrawal(unpaid, 90_000, ago(hours=1))
    demo_only = await world.client("demo")
    demo_login = await world.account(demo_only, demo=True)
    await world.deposit(demo_only, 100_000, ago(hours=5))
    await world.trade(demo_login, opened=ago(hours=4), closed=ago(hours=3), lots="5")
    await world.withdrawal(demo_only, 90_000, ago(hours=1))
    small = await world.client("small")
    await world.deposit(small, 5_000, ago(hours=5))
    await world.withdrawal(small, 5_000, ago(hours=1))
    cancelled = await world.client("cancelled")
    await world.deposit(cancelled, 100_000, ago(hours=5))
    await world.withdrawal(cancelled, 90_000, ago(hours=1), status=WithdrawalStatus.CANCELLED)

    hasty = await world.client("hasty")
    await world.deposit(hasty, 100_000, ago(hours=2))
    hasty_wd = await world.withdrawal(hasty, 90_000, ago(minutes=2))  # younger than settle_minutes

    outcome = await run(db, rules.AML_DEPOSIT_WITHDRAWAL)

    found = await alerts_of(db, rules.AML_DEPOSIT_WITHDRAWAL)
    assert [(a.client_id, a.dedup_key) for a in found] == [
        (idle, f"withdrawal:{idle_wd}"),
        (demo_only, found[1].dedup_key),
    ]
    assert outcome.raised == [a.id for a in found]
    assert found[0].evidence["lots_traded"] == "0"
    assert found[0].evidence["summary_args"]["amount"] == "900.00 USD"
    assert await clients_of(db, found[0].id) == {idle}

    # the young withdrawal is judged on the next run, once trades on their way had time to sync
    later = await run(db, rules.AML_DEPOSIT_WITHDRAWAL, NOW + timedelta(minutes=15))
    assert [a.dedup_key for a in await alerts_of(db, rules.AML_DEPOSIT_WITHDRAWAL)][2:] == [
        f"withdrawal:{hasty_wd}"
    ]
    assert len(later.raised) == 1


async def test_many_clients_from_one_ip_or_device(db: Database) -> None:
    world = await risk_world(db)
    crowd = [await world.client(f"crowd{i}") for i in range(3)]
    for client in crowd:
        await world.sign_in(client, ago(hours=2), ip="203.0.113.5")
    pair = [await world.client(f"pair{i}") for i in range(2)]
    for client in pair:
        await world.sign_in(client, ago(hours=2), ip="198.51.100.7", device="device-one")
    loner = await world.client("loner")
    await world.sign_in(loner, ago(hours=3), ip="192.0.2.1", device="device-two")
    await world.sign_in(loner, ago(hours=2), ip="192.0.2.1", device="device-two")
    for i in range(3):  # staff share the office IP; only clients count
        await world.sign_in(await world.user(f"s{i}@staff.test", kind=STAFF), ago(hours=1), ip="192.0.2.50")

    await run(db, rules.SHARED_IP)
    await run(db, rules.SHARED_DEVICE)

    by_ip = await alerts_of(db, rules.SHARED_IP)
    assert [a.subject for a in by_ip] == ["ip:203.0.113.5"]
    assert by_ip[0].client_id is None
    assert await clients_of(db, by_ip[0].id) == set(crowd)
    by_device = await alerts_of(db, rules.SHARED_DEVICE)
    assert len(by_device) == 1
    assert await clients_of(db, by_device[0].id) == set(pair)

    # the same crowd signing in again is the same finding; one more client is a new one
    for client in crowd:
        await world.sign_in(client, NOW + timedelta(minutes=5), ip="203.0.113.5")
    later = NOW + timedelta(minutes=15)
    await run(db, rules.SHARED_IP, later)
    assert len(await alerts_of(db, rules.SHARED_IP)) == 1
    newcomer = await world.client("newcomer")
    await world.sign_in(newcomer, later + timedelta(minutes=1), ip="203.0.113.5")
    await run(db, rules.SHARED_IP, later + timedelta(minutes=15))
    grown = await alerts_of(db, rules.SHARED_IP)
    assert len(grown) == 2
    assert await clients_of(db, grown[1].id) == {*crowd, newcomer}


async def test_duplicate_identity_documents_and_tax_numbers(db: Database) -> None:
    world = await risk_world(db)
    first, second = await world.client("doc1"), await world.client("doc2")
    await world.document(first, b"passport-scan", ago(days=20))
    await world.document(second, b"passport-scan", ago(hours=2))
    selfie1, selfie2 = await world.client("selfie1"), await world.client("selfie2")
    await world.document(selfie1, b"same-selfie", ago(hours=2), DocumentKind.SELFIE)
    await world.document(selfie2, b"same-selfie", ago(hours=2), DocumentKind.SELFIE)
    twice = await world.client("twice")
    await world.document(twice, b"my-own-id", ago(hours=3), DocumentKind.NATIONAL_ID)
    await world.document(twice, b"my-own-id", ago(hours=2), DocumentKind.NATIONAL_ID)
    tin1, tin2, abroad = await world.client("tin1"), await world.client("tin2"), await world.client("abroad")
    await world.profile(tin1, "AB123456", "GB", ago(days=30))
    await world.profile(tin2, " ab-123 456", "GB", ago(hours=1))
    await world.profile(abroad, "AB123456", "FR", ago(hours=1))

    await run(db, rules.DUPLICATE_IDENTITY)

    found = await alerts_of(db, rules.DUPLICATE_IDENTITY)
    assert [a.evidence["match"] for a in found] == ["file_sha256", "tax_identification_number"]
    assert await clients_of(db, found[0].id) == {first, second}
    assert await clients_of(db, found[1].id) == {tin1, tin2}
    assert found[1].evidence["tin_ending"] == "3456"
    assert "AB123456" not in found[1].subject


async def test_short_trades_on_ib_attributed_accounts(db: Database) -> None:
    world = await risk_world(db)
    partner = await world.partner(await world.client("ib"))
    gamer, patient, unreferred, late, few = [
        await world.client(name) for name in ("gamer", "patient", "unreferred", "late", "few")
    ]
    for client in (gamer, patient, few):
        await world.attribute(client, partner, ago(days=30))
    await world.attribute(late, partner, ago(minutes=30))
    day_start = (NOW - timedelta(hours=3)).replace(hour=0, minute=0, second=0)
    opened = [day_start + timedelta(minutes=10 * i) for i in range(3)]
    for client in (gamer, unreferred, late):
        login = await world.account(client)
        for moment in opened:
            await world.trade(login, opened=moment, closed=moment + timedelta(seconds=30))
    patient_login = await world.account(patient)
    for moment in opened:
        await world.trade(patient_login, opened=moment, closed=moment + timedelta(minutes=10))
    few_login = await world.account(few)
    for moment in opened[:2]:
        await world.trade(few_login, opened=moment, closed=moment + timedelta(seconds=30))
    await world.trade(few_login, opened=opened[2], closed=None)  # still open: nothing closed

    await run(db, rules.SHORT_HOLD_IB)

    found = await alerts_of(db, rules.SHORT_HOLD_IB)
    assert [(a.client_id, a.dedup_key) for a in found] == [(gamer, f"day:{day_start.date().isoformat()}")]
    assert found[0].evidence["partner_ids"] == [partner]
    assert [t["held_seconds"] for t in found[0].evidence["short_trades"]] == [30, 30, 30]


async def test_large_deposits_and_withdrawals(db: Database) -> None:
    world = await risk_world(db)
    whale, minnow = await world.client("whale"), await world.client("minnow")
    big = await world.deposit(whale, 1_200_000, ago(hours=2))
    await world.deposit(minnow, 500_000, ago(hours=2))
    await world.deposit(minnow, 2_000_000, ago(hours=2), status=DepositStatus.AWAITING_PAYMENT)
    out = await world.withdrawal(whale, 1_500_000, ago(hours=1))
    await world.withdrawal(minnow, 1_500_000, ago(hours=1), status=WithdrawalStatus.CANCELLED)
    await world.withdrawal(minnow, 900_000, ago(hours=1))

    euro = await world.client("euro")
    async with db.transaction() as session:
        await fx.record_rate(
            session,
            base="EUR",
            quote="USD",
            rate=Decimal("1.10"),
            spread=Decimal(0),
            source="test",
            observed_at=ago(days=1),
        )
    euro_big = await world.deposit(euro, 950_000, ago(hours=2), currency="EUR")  # 10,450 USD
    await world.deposit(euro, 850_000, ago(hours=2), currency="EUR")  # 9,350 USD

    await run(db, rules.LARGE_DEPOSIT)
    await run(db, rules.LARGE_WITHDRAWAL)

    found = await alerts_of(db, rules.LARGE_DEPOSIT)
    assert [(a.client_id, a.dedup_key) for a in found] == [
        (whale, f"deposit:{big}"),
        (euro, f"deposit:{euro_big}"),
    ]
    assert found[1].evidence["usd_minor"] == 1_045_000
    assert found[1].evidence["summary_args"]["amount"] == "9,500.00 EUR"
    assert [(a.client_id, a.dedup_key) for a in await alerts_of(db, rules.LARGE_WITHDRAWAL)] == [
        (whale, f"withdrawal:{out}")
    ]


async def test_withdrawal_to_a_method_never_used_for_depositing(db: Database) -> None:
    world = await risk_world(db)
    card, wire, newcomer = await world.client("card"), await world.client("wire"), await world.client("new")
    await world.deposit(card, 50_000, ago(days=3))
    to_bank = await world.withdrawal(card, 10_000, ago(hours=1), destination="bank_account")
    await world.withdrawal(card, 10_000, ago(hours=1))
    other_psp = await world.withdrawal(card, 10_000, ago(hours=1), psp="otherpay")
    await world.deposit(wire, 50_000, ago(days=3), method="wire")
    await world.withdrawal(wire, 10_000, ago(hours=1), destination="bank_account")
    await world.deposit(newcomer, 50_000, ago(minutes=10))  # deposited only after asking
    asked_first = await world.withdrawal(newcomer, 10_000, ago(hours=1))

    await run(db, rules.WITHDRAWAL_METHOD_MISMATCH)

    found = await alerts_of(db, rules.WITHDRAWAL_METHOD_MISMATCH)
    assert [(a.client_id, a.dedup_key) for a in found] == [
        (card, f"withdrawal:{to_bank}"),
        (card, f"withdrawal:{other_psp}"),
        (newcomer, f"withdrawal:{asked_first}"),
    ]
    assert found[0].evidence["deposit_methods"] == ["psp:sandbox"]
    assert found[0].evidence["withdrawal"]["method"] == "wire"


async def test_clean_activity_raises_nothing(db: Database) -> None:
    world = await risk_world(db)
    for i in range(3):
        client = await world.client(f"clean{i}")
        login = await world.account(client)
        await world.sign_in(client, ago(hours=3), ip=f"203.0.113.{10 + i}", device=f"device-{i}")
        await world.deposit(client, 100_000, ago(hours=20))
        await world.trade(login, opened=ago(hours=10), closed=ago(hours=9), lots="3")
        await world.document(client, f"passport-{i}".encode(), ago(hours=4))
        await world.profile(client, f"TIN{i}", "GB", ago(hours=4))
        await world.withdrawal(client, 50_000, ago(hours=1))

    runs = await run_rules(db, now=NOW)

    assert {run.rule for run in runs} == set(rules.RULES)
    async with db.session() as session:
        assert await session.scalar(select(func.count(RiskAlert.id))) == 0
        states = list(await session.scalars(select(RiskRuleState)))
    assert {state.rule for state in states} == set(rules.RULES)


async def test_reruns_and_redeliveries_raise_each_alert_once(db: Database) -> None:
    world = await risk_world(db)
    client = await world.client("again")
    await world.account(client)
    await world.deposit(client, 1_500_000, ago(hours=5))
    await world.withdrawal(client, 1_400_000, ago(hours=1), destination="bank_account")

    first = await run_rules(db, now=NOW)
    raised = {run.rule: len(run.raised) for run in first}
    assert raised[rules.AML_DEPOSIT_WITHDRAWAL] == 1
    assert raised[rules.LARGE_DEPOSIT] == 1
    assert raised[rules.LARGE_WITHDRAWAL] == 1
    assert raised[rules.WITHDRAWAL_METHOD_MISMATCH] == 1
    async with db.session() as session:
        total = await session.scalar(select(func.count(RiskAlert.id)))
    assert total == 4

    # the same job delivered again at the same moment, then the next scheduled run, then a run
    # whose watermark was lost (it rescans the whole first-run window)
    again = await run_rules(db, now=NOW)
    later = await run_rules(db, now=NOW + timedelta(minutes=15))
    async with db.transaction() as session:
        for state in await session.scalars(select(RiskRuleState)):
            state.watermark = None
    rescanned = await run_rules(db, now=NOW + timedelta(minutes=30))
    assert all(not run.raised for run in (*again, *later, *rescanned))
    assert all(run.findings >= 0 for run in rescanned)
    assert sum(run.findings for run in rescanned) == 4
    async with db.session() as session:
        assert await session.scalar(select(func.count(RiskAlert.id))) == 4
        raised_events = await session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "risk.alert_raised")
        )
    assert raised_events == 4
