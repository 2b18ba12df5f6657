"""The portal's one wiring point for the bridge: KYC's live-account rule as the bridge's check.

The bridge can't import KYC (a sibling layer), so the portal, which may import both, hands
:func:`mt_bridge.accounts.request_account` this callable and turns KYC's refusal into the
bridge's own.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kyc import gates as kyc_gates
from kyc.errors import KycLevelRequiredError
from mt_bridge.errors import AccountRequestError


async def live_account_allowed(session: AsyncSession, client_id: int) -> None:
    try:
        await kyc_gates.require_live_account_allowed(session, client_id)
    except KycLevelRequiredError as exc:
        raise AccountRequestError(str(exc)) from None
