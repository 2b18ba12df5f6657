"""What a client's KYC level lets them do. Other packages get these through injected callables
(the app wires them), so that cashier and the bridge never import kyc sideways."""

from __future__ import annotations

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
