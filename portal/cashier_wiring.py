"""The portal's one wiring point for the cashier: KYC's rules adapted to the cashier's gates.

The cashier can't import KYC (a sibling layer), so the portal, which may import both, hands the
cashier these callables and turns KYC's refusal into the cashier's.
"""

from __future__ import annotations

from cashier.gates import Gates, usd_deposit_gate, withdrawal_gate
from kyc import gates as kyc_gates
from kyc.errors import KycLevelRequiredError

KYC_GATES = Gates(
    deposit=usd_deposit_gate(kyc_gates.require_deposit_allowed, KycLevelRequiredError),
    withdrawal=withdrawal_gate(kyc_gates.require_withdrawal_allowed, KycLevelRequiredError),
)
