"""The back office's wiring point for the cashier: KYC's deposit rule, asked again when finance
credits a wire (the amount received may be more than the client declared, and the client's KYC
level may have changed since the request)."""

from __future__ import annotations

from cashier.gates import Gates, usd_deposit_gate
from kyc import gates as kyc_gates
from kyc.errors import KycLevelRequiredError

KYC_GATES = Gates(deposit=usd_deposit_gate(kyc_gates.require_deposit_allowed, KycLevelRequiredError))
