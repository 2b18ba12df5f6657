"""What staff can do about outbox commands: see the failed ones, retry or cancel them.

A command that may already have reached the server (``maybe_applied``) can't be cancelled: the
worker must first look on the server, which retrying does.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.errors import NotFoundError
from core.jobs import enqueue_after_commit
from mt_bridge.commands import PROCESS_COMMAND_ACTOR
from mt_bridge.errors import CommandStateError
from mt_bridge.models import Command, CommandKind, CommandStatus, TradingAccount, TradingAccountStatus

ATTENTION_STATUSES = (CommandStatus.FAILED, CommandStatus.AWAITING_APPROVAL)


async def commands_needing_attention(
    session: AsyncSession, limit: int = 200, statuses: tuple[CommandStatus, ...] = ATTENTION_STATUSES
) -> list[Command]:
    """Failed commands (with their last error) and those awaiting approval, oldest first;
    ``statuses`` narrows it to one queue (the failures page, the approvals page)."""
    rows = await session.scalars(
        select(Command).where(Command.status.in_(statuses)).order_by(Command.id).limit(limit)
    )
    return list(rows)


async def retry_command(session: AsyncSession, command_id: int) -> Command:
    """Send a failed command to the worker again (it looks on the server first if it may be applied)."""
    command = await _get(session, command_id)
    if command.status is not CommandStatus.FAILED:
        raise CommandStateError(f"only a failed command can be retried; {command_id} is {command.status}")
    if (
        command.kind in (CommandKind.CREATE_ACCOUNT, CommandKind.CHANGE_PASSWORD)
        and command.secret_sealed is None
    ):
        raise CommandStateError("its password is gone; make a new request instead")
    command.status = CommandStatus.PENDING
    command.next_attempt_at = utcnow()
    command.attempts = 0 if not command.maybe_applied else command.attempts
    if command.kind is CommandKind.CREATE_ACCOUNT and command.trading_account_id is not None:
        account = await session.get(TradingAccount, command.trading_account_id)
        if account is not None:
            account.status = TradingAccountStatus.OPENING
    enqueue_after_commit(session, PROCESS_COMMAND_ACTOR, command.id)
    return command


async def cancel_command(session: AsyncSession, command_id: int, reason: str) -> Command:
    """Give a command up; refused while it may already have been applied on the server."""
    command = await _get(session, command_id)
    if command.status not in (CommandStatus.FAILED, CommandStatus.PENDING, CommandStatus.AWAITING_APPROVAL):
        raise CommandStateError(f"command {command_id} is {command.status} and can't be cancelled")
    if command.maybe_applied:
        raise CommandStateError("it may already be applied on the server; retry it so the worker looks first")
    command.status = CommandStatus.CANCELLED
    command.secret_sealed = None
    command.last_error = f"cancelled: {reason}"[:500]
    if command.kind is CommandKind.CREATE_ACCOUNT and command.trading_account_id is not None:
        account = await session.get(TradingAccount, command.trading_account_id)
        if account is not None:
            account.status = TradingAccountStatus.FAILED
    return command


async def _get(session: AsyncSession, command_id: int) -> Command:
    command = await session.get(Command, command_id)
    if command is None:
        raise NotFoundError(f"no command {command_id}")
    return command
