"""Deposit and withdrawal fees per currency and method: a fixed part and/or basis points.

Stored in :mod:`core.config_store` (key ``cashier.fees``). A fee is ``fixed + amount x bps /
10,000``, the percentage part rounded up to the next minor unit (in the house's favour, see
:func:`fee_amount`). No fee is configured by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import money
from core.config_store import InvalidSettingError, read_value
from core.settings import Settings

FEES_KEY = "cashier.fees"
METHODS: dict[str, str] = {
    "deposit_psp": "card or online deposit",
    "deposit_wire": "bank-wire deposit",
    "withdrawal_bank": "withdrawal to a bank account",
    "withdrawal_psp": "withdrawal to a payment provider",
}
MAX_BPS = 10_000


@dataclass(frozen=True)
class FeeRule:
    fixed: int = 0
    """Minor units of the currency."""
    bps: int = 0
    """Basis points of the amount: 100 is 1 %."""

    @property
    def is_free(self) -> bool:
        return self.fixed == 0 and self.bps == 0


def fee_amount(rule: FeeRule, amount: int) -> int:
    """The fee on ``amount`` minor units. Rounding point ``fee_percentage_up``: the basis-point part
    is rounded up to a whole minor unit (integer ceiling division), never down."""
    percentage = -((-amount * rule.bps) // MAX_BPS)
    return rule.fixed + percentage


FeeTable = dict[str, dict[str, FeeRule]]
"""currency -> method -> rule."""


async def load_fees(
    session: AsyncSession, settings: Settings, currencies: Iterable[str] | None = None
) -> FeeTable:
    stored = await read_value(session, FEES_KEY) or {}
    table: FeeTable = {}
    for currency in currencies or settings.cashier_currency_list:
        found = stored.get(currency)
        entry: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        rules: dict[str, FeeRule] = {}
        for method in METHODS:
            rule = entry.get(method)
            rule = rule if isinstance(rule, Mapping) else {}
            rules[method] = FeeRule(int(rule.get("fixed", 0)), int(rule.get("bps", 0)))
        table[currency] = rules
    return table


async def fee_rule(session: AsyncSession, currency: str, method: str) -> FeeRule:
    """The rule in force now for one currency and method (no rule stored: free)."""
    stored = await read_value(session, FEES_KEY) or {}
    entry = stored.get(currency)
    rule = entry.get(method) if isinstance(entry, Mapping) else None
    if not isinstance(rule, Mapping):
        return FeeRule()
    return FeeRule(int(rule.get("fixed", 0)), int(rule.get("bps", 0)))


def fees_to_json(table: Mapping[str, Mapping[str, FeeRule]]) -> dict[str, Any]:
    return {
        currency: {method: {"fixed": rule.fixed, "bps": rule.bps} for method, rule in sorted(rules.items())}
        for currency, rules in sorted(table.items())
    }


def parse_fees(form: Mapping[str, str], scales: Mapping[str, int]) -> FeeTable:
    """Fields ``<CUR>_<method>_fixed`` (major units, ``"1.50"``) and ``<CUR>_<method>_bps`` (whole
    basis points, 0-10000)."""
    table: FeeTable = {}
    for currency, scale in scales.items():
        rules: dict[str, FeeRule] = {}
        for method, label in METHODS.items():
            fixed_name, bps_name = f"{currency}_{method}_fixed", f"{currency}_{method}_bps"
            raw_fixed = (form.get(fixed_name, "") or "").strip() or "0"
            if raw_fixed.startswith("-"):
                raise InvalidSettingError(fixed_name, f"{currency} {label}, fixed fee: cannot be negative.")
            try:
                fixed = money.parse_amount(raw_fixed, scale, allow_zero=True)
            except money.InvalidAmountError as exc:
                raise InvalidSettingError(fixed_name, f"{currency} {label}, fixed fee: {exc}") from None
            raw_bps = (form.get(bps_name, "") or "").strip() or "0"
            if not raw_bps.isdigit() or int(raw_bps) > MAX_BPS:
                raise InvalidSettingError(
                    bps_name, f"{currency} {label}, percentage fee: whole basis points from 0 to {MAX_BPS}."
                )
            rules[method] = FeeRule(fixed, int(raw_bps))
        table[currency] = rules
    return table
