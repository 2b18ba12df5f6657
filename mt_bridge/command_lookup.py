"""After a lost answer: did the command already happen on the server?

Account creation is found by its login (fixed before the call); a balance operation by the deal
whose comment carries the command's tag. Leverage, group and password changes set a value, so
sending them again is harmless and they are never looked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.clock import utcnow
from mt_bridge.commands import comment_carries_tag
from mt_bridge.errors import PlatformNotFoundError
from mt_bridge.models import CommandKind
from mt_bridge.platform import DealQuery, TradingPlatform

LOOKUP_MARGIN = timedelta(minutes=10)
"""How far around the command's lifetime to search for its deal (server clocks drift)."""


@dataclass(frozen=True, slots=True)
class ClaimedCommand:
    """A snapshot of a command row taken when a worker claimed it."""

    id: int
    server_id: int
    trading_account_id: int | None
    kind: CommandKind
    payload: dict[str, Any]
    secret_sealed: bytes | None
    attempts: int
    maybe_applied: bool
    created_at: datetime


async def find_applied(platform: TradingPlatform, command: ClaimedCommand) -> dict[str, Any] | None:
    """The command's result if the server shows it was applied, else None."""
    if command.kind is CommandKind.CREATE_ACCOUNT:
        try:
            account = await platform.get_account(int(command.payload["login"]))
        except PlatformNotFoundError:
            return None
        return {"login": account.login, "found_on_server": True}
    if command.kind is CommandKind.BALANCE_OPERATION:
        created = command.created_at
        deals = await platform.fetch_deals(
            DealQuery(
                since=created - LOOKUP_MARGIN,
                until=utcnow() + LOOKUP_MARGIN,
                logins=[int(command.payload["login"])],
            )
        )
        matches = [d for d in deals if d.is_balance_operation and comment_carries_tag(d.comment, command.id)]
        if matches:
            return {"ticket": matches[0].ticket, "found_on_server": True, "copies": len(matches)}
    return None
