"""What a client's KYC level lets them do.

``none``: browse and open demo accounts. ``basic`` (profile and questionnaire done): deposit up to
the configured limit. ``full`` (documents approved): open live accounts, deposit above the limit
and withdraw.

These are services that other packages call through an **injected function**, never by importing
``kyc``: cashier and the bridge sit beside or above kyc in the layers, and a rule that spans
packages is passed in from the layer above (DESIGN.md section 2). The wiring point of an app (or a
worker) hands the callables over, for instance::

    from kyc.gates import KYC_GATES
    cashier_service = WithdrawalService(require_withdrawal_allowed=KYC_GATES.withdrawal)

and the receiving package declares only the callable's type (:data:`LevelGate`,
:data:`DepositGate`) and calls it with its own session inside its own transaction. Each gate
raises :class:`~kyc.errors.KycLevelRequiredError` (its ``required`` level says what is missing)
and returns ``None`` when the action is allowed. Tests check every gate at every level.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kyc.config import load_limits
from kyc.errors import KycLevelRequiredError
from kyc.models import KycCase, KycLevel


async def kyc_level(session: AsyncSession, client_id: int) -> KycLevel:
    level = await session.scalar(select(KycCase.level).where(KycCase.client_id == client_id))
    return level or KycLevel.NONE


async def require_live_account_allowed(session: AsyncSession, client_id: int) -> None:
    """Live trading accounts need approved documents; demo accounts need nothing."""
    if await kyc_level(session, client_id) is not KycLevel.FULL:
        raise KycLevelRequiredError("Verify your identity before opening a live account.", KycLevel.FULL)


async def require_deposit_allowed(
    session: AsyncSession, client_id: int, amount_usd_minor: int, deposited_before_usd_minor: int = 0
) -> None:
    """Basic clients may deposit up to the limit in total (cashier says how much came before);
    full clients without a limit."""
    level = await kyc_level(session, client_id)
    if level is KycLevel.FULL:
        return
    if level is KycLevel.NONE:
        raise KycLevelRequiredError(
            "Complete your profile and questionnaire before depositing.", KycLevel.BASIC
        )
    limit = (await load_limits(session)).basic_deposit_limit_usd_minor
    if deposited_before_usd_minor + amount_usd_minor > limit:
        raise KycLevelRequiredError(
            f"Deposits above {limit // 100} USD need verified documents.", KycLevel.FULL
        )


async def require_withdrawal_allowed(session: AsyncSession, client_id: int) -> None:
    if await kyc_level(session, client_id) is not KycLevel.FULL:
        raise KycLevelRequiredError("Verify your identity before withdrawing.", KycLevel.FULL)


LevelGate = Callable[[AsyncSession, int], Awaitable[None]]
"""``gate(session, client_id)``: raises :class:`KycLevelRequiredError` when not allowed."""

DepositGate = Callable[[AsyncSession, int, int, int], Awaitable[None]]
"""``gate(session, client_id, amount_usd_minor, deposited_before_usd_minor)``."""


@dataclass(frozen=True)
class KycGates:
    """The gates an app wires into the packages that need them."""

    live_account: LevelGate
    deposit: DepositGate
    withdrawal: LevelGate


KYC_GATES = KycGates(
    live_account=require_live_account_allowed,
    deposit=require_deposit_allowed,
    withdrawal=require_withdrawal_allowed,
)
