"""Rules other packages own, handed to the cashier as callables by the app that wires it.

A gate raises :class:`cashier.errors.NotAllowedError` with a message for the client, or returns.
The apps adapt KYC's checks to this shape, so the cashier never imports KYC (a sibling layer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

DepositGate = Callable[[AsyncSession, int, int, str], Awaitable[None]]
"""(session, client id, amount in minor units, currency) -> None or NotAllowedError."""

WithdrawalGate = Callable[[AsyncSession, int], Awaitable[None]]
"""(session, client id) -> None or NotAllowedError."""


async def allow_deposit(_session: AsyncSession, _client_id: int, _amount: int, _currency: str) -> None:
    """A gate that allows everything: for back-office tools and tests of other rules."""


async def allow_withdrawal(_session: AsyncSession, _client_id: int) -> None:
    """A gate that allows everything: for back-office tools and tests of other rules."""


@dataclass(frozen=True)
class Gates:
    """The checks an app wires in: whether a client may deposit and withdraw at all."""

    deposit: DepositGate = allow_deposit
    withdrawal: WithdrawalGate = allow_withdrawal
