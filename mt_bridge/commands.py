"""Writing commands into the outbox: one row per intended server operation, before anything is sent.

The row's id becomes a tag (``BD#<id>``) carried in the MT comment of a balance operation, and an
account's login is fixed from it before the call, so a worker that lost an answer can look on the
server for what it did instead of doing it twice. The job that processes the row is sent only
after the transaction that wrote it commits.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.jobs import enqueue_after_commit
from core.secrets_box import SecretsBox
from mt_bridge.errors import CommandStateError
from mt_bridge.models import Command, CommandKind, CommandStatus, TradingServer

PROCESS_COMMAND_ACTOR = "mt_bridge.process_command"
TAG_PREFIX = "BD#"
MAX_COMMENT_LENGTH = 31


def command_tag(command_id: int) -> str:
    """The tag that identifies a command's effect on the server."""
    return f"{TAG_PREFIX}{command_id}"


def tagged_comment(command_id: int, comment: str) -> str:
    """The MT comment for a command: its tag first (never cut), then as much of ``comment`` as fits."""
    tag = command_tag(command_id)
    return f"{tag} {comment}".strip()[:MAX_COMMENT_LENGTH] if comment else tag


def comment_carries_tag(comment: str, command_id: int) -> bool:
    """True when an MT comment was written by :func:`tagged_comment` for ``command_id``."""
    tag = command_tag(command_id)
    return comment == tag or comment.startswith(tag + " ")


def secret_context(command_id: int) -> str:
    return f"mt_command:{command_id}:secret"


async def new_command(
    session: AsyncSession,
    *,
    server_id: int,
    kind: CommandKind,
    payload: dict[str, Any],
    trading_account_id: int | None = None,
    secret: dict[str, str] | None = None,
    box: SecretsBox | None = None,
    request_key: str | None = None,
    counter_account_id: int | None = None,
    awaiting_approval: bool = False,
    created_by: int | None = None,
) -> Command:
    """Write one command; with a ``request_key`` already used, return that command instead."""
    if request_key is not None:
        existing = await session.scalar(select(Command).where(Command.request_key == request_key))
        if existing is not None:
            if existing.kind != kind or existing.trading_account_id != trading_account_id:
                raise CommandStateError(f"request key {request_key!r} was used for another command")
            return existing
    command = Command(
        server_id=server_id,
        trading_account_id=trading_account_id,
        kind=kind,
        status=CommandStatus.AWAITING_APPROVAL if awaiting_approval else CommandStatus.PENDING,
        request_key=request_key,
        payload=dict(payload),
        counter_account_id=counter_account_id,
        created_by=created_by,
    )
    session.add(command)
    await session.flush()
    fixed = dict(payload)
    if kind is CommandKind.BALANCE_OPERATION:
        fixed["comment"] = tagged_comment(command.id, str(payload.get("comment", "")))
    if kind is CommandKind.CREATE_ACCOUNT:
        server = await session.get(TradingServer, server_id)
        assert server is not None
        fixed["login"] = server.login_range_start + command.id
    command.payload = fixed
    if secret is not None:
        if box is None:
            raise CommandStateError("a command with a secret needs the secrets box")
        command.secret_sealed = box.seal(json.dumps(secret), secret_context(command.id))
    if not awaiting_approval:
        enqueue_after_commit(session, PROCESS_COMMAND_ACTOR, command.id)
    return command


def open_secret(box: SecretsBox, command_id: int, sealed: bytes | None) -> dict[str, str]:
    if sealed is None:
        raise CommandStateError(f"command {command_id} has no secret left (it is done)")
    value: dict[str, str] = json.loads(box.open(sealed, secret_context(command_id)))
    return value
