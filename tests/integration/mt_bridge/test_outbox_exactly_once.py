"""The command outbox against the emulator over a real socket: each operation happens exactly once,
even when the server refuses, or applies and then drops the connection before answering."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from mt_bridge import accounts
from mt_bridge.command_admin import cancel_command, commands_needing_attention, retry_command
from mt_bridge.command_worker import claim, process_command, send
from mt_bridge.commands import command_tag, comment_carries_tag
from mt_bridge.emulator.config import FaultConfig
from mt_bridge.emulator.faults import Fault, FaultKind
from mt_bridge.errors import CommandStateError, OutcomeUnknownError
from mt_bridge.models import Command, CommandKind, CommandStatus, TradingAccountStatus
from mt_bridge.reconciliation import reconcile_server
from mt_bridge.records import DealAction
from mt_bridge.sync import sync_server
from tests.integration.mt_bridge.bridge_setup import FAST_OUTBOX, FAST_SYNC, Crm

OPERATIONS = 1000
LOGINS = 20


def tagged_deals(crm: Crm) -> Counter[int]:
    """Command id → how many balance deals on the emulator carry its tag."""
    found: Counter[int] = Counter()
    for deal in crm.emulator.server.deals.values():
        if deal.action == DealAction.BALANCE and deal.comment.startswith("BD#"):
            found[int(deal.comment[3:].split(" ")[0])] += 1
    return found


async def test_a_thousand_balance_operations_through_faults_apply_exactly_once(crm: Crm) -> None:
    opened = await crm.open_live_accounts(LOGINS, deposit=10_000_00)
    assert all(a.status is TradingAccountStatus.ACTIVE and a.login for a in opened)
    crm.emulator.faults.configure(
        FaultConfig(error_rate=0.05, drop_after_apply_rate=0.05, endpoints=("/api/trade/balance",))
    )
    rng = random.Random(7)
    expected = {a.login: 10_000_00 for a in opened}
    async with crm.db.transaction() as session:
        for number in range(OPERATIONS):
            account = rng.choice(opened)
            amount = rng.randint(1, 50_00) * (1 if rng.random() < 0.7 else -1)
            expected[account.login] += amount
            await accounts.request_balance_operation(
                session, account.id, amount, request_key=f"op:{number}", comment=f"op {number}"
            )
    await crm.run_outbox()
    inflicted = Counter(kind for path, kind in crm.emulator.faults.inflicted if path == "/api/trade/balance")
    assert inflicted[FaultKind.ERROR] > 20
    assert inflicted[FaultKind.DROP_AFTER_APPLY] > 20

    commands = [c for c in await crm.commands() if c.kind is CommandKind.BALANCE_OPERATION]
    assert len(commands) == OPERATIONS + LOGINS
    assert {c.status for c in commands} == {CommandStatus.DONE}
    assert sum(1 for c in commands if (c.result or {}).get("found_on_server")) > 0
    per_command = tagged_deals(crm)
    assert set(per_command) == {c.id for c in commands}
    assert set(per_command.values()) == {1}
    for command in commands:
        ticket = command.result["ticket"]
        assert comment_carries_tag(crm.emulator.server.deal(ticket).comment, command.id)
    assert crm.server_balances(list(expected)) == expected

    await sync_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    assert await crm.ledger_balances() == expected
    assert await crm.suspense_balance() == -sum(expected.values())
    outcome = await reconcile_server(crm.db, crm.directory.platform, crm.server_id, FAST_SYNC)
    assert outcome.compared == LOGINS
    assert outcome.differences == []


async def test_a_request_key_gives_one_command(crm: Crm) -> None:
    [account] = await crm.open_live_accounts(1)
    async with crm.db.transaction() as session:
        first = await accounts.request_balance_operation(session, account.id, 500, request_key="same")
        again = await accounts.request_balance_operation(session, account.id, 500, request_key="same")
    assert first.id == again.id
    await crm.run_outbox()
    assert tagged_deals(crm)[first.id] == 1


async def test_a_command_taken_over_from_a_dead_worker_is_looked_up_not_repeated(crm: Crm) -> None:
    [account] = await crm.open_live_accounts(1)
    async with crm.db.transaction() as session:
        command = await accounts.request_balance_operation(session, account.id, 1234, request_key="crash")
    # The first worker claims it, sends it (the server applies it, the answer is lost) and dies
    # before recording anything: the row stays in progress until its lease runs out.
    crm.emulator.faults.queue("/api/trade/balance", Fault(FaultKind.DROP_AFTER_APPLY))
    short = replace(FAST_OUTBOX, lease=timedelta(0))
    claimed = await claim(crm.db, command.id, short)
    assert claimed is not None
    assert not claimed.maybe_applied
    with pytest.raises(OutcomeUnknownError):
        await send(await crm.directory.platform(crm.server_id), claimed, crm.box)
    assert tagged_deals(crm)[command.id] == 1
    status = await process_command(crm.db, crm.directory.platform, crm.box, command.id, short)
    assert status is CommandStatus.DONE
    async with crm.db.session() as session:
        done = await session.get(Command, command.id)
        assert done is not None
        assert done.maybe_applied is True
        assert done.result is not None
        assert done.result["found_on_server"] is True
    assert tagged_deals(crm)[command.id] == 1


async def test_a_refusal_is_visible_and_can_be_retried_or_cancelled(crm: Crm) -> None:
    [account] = await crm.open_live_accounts(1)
    async with crm.db.transaction() as session:
        too_much = await accounts.request_balance_operation(session, account.id, -500, request_key="overdraw")
        other = await accounts.request_balance_operation(session, account.id, -700, request_key="overdraw-2")
    await crm.run_outbox()
    async with crm.db.session() as session:
        failed = await commands_needing_attention(session)
    assert [c.id for c in failed] == [too_much.id, other.id]
    assert all(c.status is CommandStatus.FAILED and "10019" in (c.last_error or "") for c in failed)
    assert tagged_deals(crm)[too_much.id] == 0

    async with crm.db.transaction() as session:
        await accounts.request_balance_operation(session, account.id, 1000, request_key="top-up")
    await crm.run_outbox()
    async with crm.db.transaction() as session:
        await retry_command(session, too_much.id)
        await cancel_command(session, other.id, "client changed their mind")
    await crm.run_outbox()
    async with crm.db.session() as session:
        statuses = dict((await session.execute(select(Command.id, Command.status))).all())
    assert statuses[too_much.id] is CommandStatus.DONE
    assert statuses[other.id] is CommandStatus.CANCELLED
    assert tagged_deals(crm)[too_much.id] == 1
    assert tagged_deals(crm)[other.id] == 0
    async with crm.db.transaction() as session:
        with pytest.raises(CommandStateError):
            await retry_command(session, too_much.id)


def test_tags_fit_the_comment_and_do_not_collide() -> None:
    assert command_tag(12) == "BD#12"
    assert comment_carries_tag("BD#12 deposit", 12)
    assert not comment_carries_tag("BD#123 deposit", 12)
    assert not comment_carries_tag("BD#1", 12)
