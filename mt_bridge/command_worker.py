"""Processing one outbox command exactly once, with every network call outside a transaction.

1. **Claim** in a short transaction: a compare-and-set moves a due ``pending`` row (or an
   ``in_progress`` row whose lease ran out because its worker died) to ``in_progress`` and bumps
   ``attempts``. A row taken over from a dead worker is marked ``maybe_applied``.
2. **Look, then send**, with no transaction open: a ``maybe_applied`` command is first looked for
   on the server (:mod:`mt_bridge.command_lookup`); only if it isn't there is it sent.
3. **Record** in another short transaction, fenced on ``attempts`` so a worker that lost its lease
   can't overwrite the one that took over: done (with its effects on the trading account), failed
   (the server refused; nothing applied), or back to pending with a backoff. A lost answer sets
   ``maybe_applied``, so the next attempt looks before it sends.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, or_, select, update

from core.clock import utcnow
from core.db import Database
from core.secrets_box import SecretsBox
from mt_bridge.command_lookup import ClaimedCommand, find_applied
from mt_bridge.commands import open_secret
from mt_bridge.connect import PlatformSource
from mt_bridge.errors import (
    AccountExistsError,
    MtBridgeError,
    OutcomeUnknownError,
    PlatformRejectedError,
    ProtocolError,
)
from mt_bridge.models import Command, CommandKind, CommandStatus, table_of
from mt_bridge.platform import TradingPlatform
from mt_bridge.records import BalanceOperation, BalanceOperationType, NewAccount, PasswordKind
from mt_bridge.retcodes import Retcode

logger = logging.getLogger(__name__)

TRANSIENT_RETCODES = frozenset(
    {Retcode.ERR_NETWORK, Retcode.ERR_TIMEOUT, Retcode.ERR_CONNECTION, Retcode.ERR_FREQUENT}
)
"""Refusals that say "not now" rather than "no": retried with backoff."""
MAYBE_APPLIED_RETCODES = frozenset({Retcode.ERR_TIMEOUT})
"""A server-side timeout may come after the change was made: look before sending again."""


@dataclass(frozen=True)
class OutboxPolicy:
    """Timing of the outbox worker."""

    lease: timedelta = timedelta(minutes=2)
    """How long a claim holds; a worker silent for longer is presumed dead and its row taken over."""
    backoff_base: timedelta = timedelta(seconds=2)
    """First retry delay; doubled per attempt up to ``backoff_max``."""
    backoff_max: timedelta = timedelta(minutes=5)
    max_attempts: int = 30
    """After this many transient failures the command is failed for a person to look at."""


DEFAULT_POLICY = OutboxPolicy()


def as_utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive (they are stored in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _claim_statement(ids: list[int], policy: OutboxPolicy, now: datetime) -> Any:
    c = table_of(Command).c
    return (
        update(table_of(Command))
        .where(
            c.id.in_(ids),
            or_(
                and_(c.status == CommandStatus.PENDING.value, c.next_attempt_at <= now),
                and_(c.status == CommandStatus.IN_PROGRESS.value, c.lease_until < now),
            ),
        )
        .values(
            status=CommandStatus.IN_PROGRESS,
            attempts=c.attempts + 1,
            lease_until=now + policy.lease,
            maybe_applied=case((c.status == CommandStatus.IN_PROGRESS.value, True), else_=c.maybe_applied),
            updated_at=now,
        )
        .returning(
            c.id,
            c.server_id,
            c.trading_account_id,
            c.kind,
            c.payload,
            c.secret_sealed,
            c.attempts,
            c.maybe_applied,
            c.created_at,
        )
    )


async def claim_many(
    db: Database, command_ids: list[int], policy: OutboxPolicy = DEFAULT_POLICY
) -> list[ClaimedCommand]:
    """Take those of ``command_ids`` that are due and free, in one short transaction."""
    if not command_ids:
        return []
    async with db.write_connection() as connection:
        rows = (await connection.execute(_claim_statement(command_ids, policy, utcnow()))).all()
    claimed = [
        ClaimedCommand(
            id=row.id,
            server_id=row.server_id,
            trading_account_id=row.trading_account_id,
            kind=CommandKind(row.kind),
            payload=dict(row.payload),
            secret_sealed=row.secret_sealed,
            attempts=row.attempts,
            maybe_applied=bool(row.maybe_applied),
            created_at=as_utc(row.created_at),
        )
        for row in rows
    ]
    return sorted(claimed, key=lambda command: command.id)


async def claim(
    db: Database, command_id: int, policy: OutboxPolicy = DEFAULT_POLICY
) -> ClaimedCommand | None:
    """Take the command for this worker, or None when it isn't due or someone else holds it."""
    claimed = await claim_many(db, [command_id], policy)
    return claimed[0] if claimed else None


async def send(platform: TradingPlatform, command: ClaimedCommand, box: SecretsBox) -> dict[str, Any]:
    """Make the call the command stands for; returns what to record as its result."""
    p = command.payload
    if command.kind is CommandKind.CREATE_ACCOUNT:
        secret = open_secret(box, command.id, command.secret_sealed)
        try:
            account = await platform.create_account(
                NewAccount(
                    group=str(p["group"]),
                    name=str(p["name"]),
                    leverage=int(p["leverage"]),
                    main_password=secret["main"],
                    investor_password=secret["investor"],
                    login=int(p["login"]),
                    email=str(p.get("email", "")),
                )
            )
        except AccountExistsError:
            # The login is reserved for this command, so an existing account is our earlier attempt.
            found = await find_applied(platform, command)
            if found is None:
                raise
            return found
        return {"login": account.login, "currency_digits": account.currency_digits}
    if command.kind is CommandKind.CHANGE_LEVERAGE:
        account = await platform.change_leverage(int(p["login"]), int(p["leverage"]))
        return {"leverage": account.leverage}
    if command.kind is CommandKind.CHANGE_GROUP:
        account = await platform.change_group(int(p["login"]), str(p["group"]))
        return {"group": account.group}
    if command.kind is CommandKind.CHANGE_PASSWORD:
        secret = open_secret(box, command.id, command.secret_sealed)
        await platform.change_password(int(p["login"]), PasswordKind(p["password_kind"]), secret["password"])
        return {}
    ticket = await platform.post_balance_operation(
        BalanceOperation(
            login=int(p["login"]),
            kind=BalanceOperationType(int(p["kind"])),
            amount=int(p["amount"]),
            currency_digits=int(p["currency_digits"]),
            comment=str(p["comment"]),
            check_margin=bool(p.get("check_margin", True)),
        )
    )
    return {"ticket": ticket}


def _fenced(command: ClaimedCommand) -> Any:
    return and_(
        Command.id == command.id,
        Command.status == CommandStatus.IN_PROGRESS,
        Command.attempts == command.attempts,
    )


async def record_done(db: Database, command: ClaimedCommand, result: dict[str, Any]) -> CommandStatus | None:
    """Mark the command done and apply its effects, in one transaction."""
    from mt_bridge.accounts import apply_command_result

    now = utcnow()
    async with db.transaction() as session:
        updated = await session.execute(
            update(Command)
            .where(_fenced(command))
            .values(
                status=CommandStatus.DONE,
                result=result,
                secret_sealed=None,
                last_error=None,
                lease_until=None,
                completed_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(updated, "rowcount", 0) != 1:
            logger.warning("command %s: lease lost before recording its result", command.id)
            return None
        await apply_command_result(session, command, result)
    return CommandStatus.DONE


async def record_failure(
    db: Database,
    command: ClaimedCommand,
    error: Exception,
    *,
    retry: bool,
    maybe_applied: bool,
    policy: OutboxPolicy,
) -> CommandStatus | None:
    """Send the command back to pending with a backoff, or fail it for a person to see."""
    from mt_bridge.accounts import apply_command_failure

    now = utcnow()
    give_up = not retry or command.attempts >= policy.max_attempts
    delay = min(policy.backoff_base * (2 ** max(command.attempts - 1, 0)), policy.backoff_max)
    status = CommandStatus.FAILED if give_up else CommandStatus.PENDING
    values: dict[str, Any] = {
        "status": status,
        "last_error": f"{type(error).__name__}: {error}"[:500],
        "lease_until": None,
        "next_attempt_at": now + delay,
        "updated_at": now,
    }
    if maybe_applied:
        values["maybe_applied"] = True
    async with db.transaction() as session:
        updated = await session.execute(
            update(Command)
            .where(_fenced(command))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(updated, "rowcount", 0) != 1:
            return None
        if status is CommandStatus.FAILED and not (maybe_applied or command.maybe_applied):
            await apply_command_failure(session, command)
    return status


async def process_command(
    db: Database,
    platforms: PlatformSource,
    box: SecretsBox,
    command_id: int,
    policy: OutboxPolicy = DEFAULT_POLICY,
) -> CommandStatus | None:
    """Claim, look, send and record one command; None when it was not ours to process."""
    command = await claim(db, command_id, policy)
    if command is None:
        return None
    return await run_claimed(db, platforms, box, command, policy)


async def run_claimed(
    db: Database,
    platforms: PlatformSource,
    box: SecretsBox,
    command: ClaimedCommand,
    policy: OutboxPolicy = DEFAULT_POLICY,
) -> CommandStatus | None:
    """Look, send and record a command this worker holds; no transaction is open meanwhile."""
    try:
        platform = await platforms(command.server_id)
        result = await find_applied(platform, command) if command.maybe_applied else None
        if result is None:
            result = await send(platform, command, box)
    except (OutcomeUnknownError, ProtocolError) as exc:
        return await record_failure(db, command, exc, retry=True, maybe_applied=True, policy=policy)
    except PlatformRejectedError as exc:
        transient = exc.retcode in TRANSIENT_RETCODES
        return await record_failure(
            db,
            command,
            exc,
            retry=transient,
            maybe_applied=exc.retcode in MAYBE_APPLIED_RETCODES,
            policy=policy,
        )
    except MtBridgeError as exc:
        return await record_failure(db, command, exc, retry=True, maybe_applied=False, policy=policy)
    return await record_done(db, command, result)


async def due_command_ids(db: Database, limit: int = 500) -> list[int]:
    """Commands a worker should process now: due pending ones and those whose worker died."""
    now = utcnow()
    async with db.session() as session:
        rows = await session.scalars(
            select(Command.id)
            .where(
                or_(
                    and_(Command.status == CommandStatus.PENDING, Command.next_attempt_at <= now),
                    and_(Command.status == CommandStatus.IN_PROGRESS, Command.lease_until < now),
                )
            )
            .order_by(Command.id)
            .limit(limit)
        )
        return list(rows)


async def process_due_commands(
    db: Database,
    platforms: PlatformSource,
    box: SecretsBox,
    policy: OutboxPolicy = DEFAULT_POLICY,
    limit: int = 500,
    concurrency: int = 1,
) -> dict[CommandStatus, int]:
    """Process every due command once, ``concurrency`` at a time (as that many worker threads
    would); returns how many ended in each status. Claims keep two workers off one command."""
    counts: dict[CommandStatus, int] = {}
    queue = await claim_many(db, await due_command_ids(db, limit), policy)
    queue.reverse()

    async def work() -> None:
        while queue:
            status = await run_claimed(db, platforms, box, queue.pop(), policy)
            if status is not None:
                counts[status] = counts.get(status, 0) + 1

    await asyncio.gather(*(work() for _ in range(max(1, concurrency))))
    return counts
