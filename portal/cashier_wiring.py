"""The portal's one wiring point for the cashier: KYC's rules adapted to the cashier's gates.

The cashier can't import KYC (a sibling layer), so the portal, which may import both, hands the
cashier these callables and turns KYC's refusal into the cashier's.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cashier.errors import NotAllowedError
from cashier.gates import Gates
from cashier.usd import deposited_usd, usd_equivalent
from kyc import gates as kyc_gates
from kyc.errors import KycLevelRequiredError


async def deposit_allowed(session: AsyncSession, client_id: int, amount: int, currency: str) -> None:
    try:
        await kyc_gates.require_deposit_allowed(
            session,
            client_id,
            await usd_equivalent(session, amount, currency),
            await deposited_usd(session, client_id),
        )
    except KycLevelRequiredError as exc:
        raise NotAllowedError(str(exc)) from None


async def withdrawal_allowed(session: AsyncSession, client_id: int) -> None:
    try:
        await kyc_gates.require_withdrawal_allowed(session, client_id)
    except KycLevelRequiredError as exc:
        raise NotAllowedError(str(exc)) from None


KYC_GATES = Gates(deposit=deposit_allowed, withdrawal=withdrawal_allowed)
