"""Rules other packages own, handed to the cashier as callables by the app that wires it.

A gate raises :class:`cashier.errors.NotAllowedError` with a message for the client, or returns.
The apps adapt KYC's checks to this shape, so the cashier never imports KYC (a sibling layer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from cashier.errors import NotAllowedError
from cashier.usd import deposited_usd, usd_equivalent

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


UsdDepositRule = Callable[[AsyncSession, int, int, int], Awaitable[None]]
"""(session, client id, amount in USD minor units, what the client deposited before in USD minor
units) -> None: a deposit limit stated in USD, as KYC's is."""


def usd_deposit_gate(rule: UsdDepositRule, refusal: type[Exception]) -> DepositGate:
    """A deposit gate from a rule stated in USD. The amount and what the client deposited so far
    (:func:`cashier.usd.deposited_usd`, open requests included) are converted for it, and its
    ``refusal`` becomes :class:`NotAllowedError` with the same message."""

    async def gate(session: AsyncSession, client_id: int, amount: int, currency: str) -> None:
        try:
            await rule(
                session,
                client_id,
                await usd_equivalent(session, amount, currency),
                await deposited_usd(session, client_id),
            )
        except refusal as exc:
            raise NotAllowedError(str(exc)) from None

    return gate


def withdrawal_gate(rule: WithdrawalGate, refusal: type[Exception]) -> WithdrawalGate:
    """A withdrawal gate from another package's rule, its ``refusal`` made :class:`NotAllowedError`."""

    async def gate(session: AsyncSession, client_id: int) -> None:
        try:
            await rule(session, client_id)
        except refusal as exc:
            raise NotAllowedError(str(exc)) from None

    return gate
