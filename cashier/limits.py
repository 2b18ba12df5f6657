"""Deposit and withdrawal limits per currency, set by staff and read at the moment of use.

Stored in :mod:`core.config_store` (key ``cashier.limits``), one entry per currency, in minor
units of that currency. A currency without a stored entry uses the environment's withdrawal
limits (``BROKERDESK_WITHDRAWAL_*``) and the deposit defaults below. Every request reads the
limits afresh, so a saved change applies to the next request without a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cashier.withdrawals import WithdrawalPolicy
from core import money
from core.config_store import InvalidSettingError, read_value
from core.db import Database
from core.settings import Settings

LIMITS_KEY = "cashier.limits"
DEFAULT_DEPOSIT_MAX_MINOR = 100_000_000
"""Largest single deposit when staff set none: 1,000,000.00 of a two-decimal currency."""
DEFAULT_DEPOSIT_DAILY_MAX_MINOR = 200_000_000


@dataclass(frozen=True)
class CurrencyLimits:
    """Every limit of one currency, in its minor units."""

    currency: str
    deposit_min: int
    deposit_max: int
    deposit_daily_max: int
    withdrawal_min: int
    withdrawal_max: int
    withdrawal_daily_max: int
    four_eyes_from: int
    """Withdrawals of at least this amount need two different approvers."""

    def as_json(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if k != "currency"}

    def withdrawal_policy(self, deadline: timedelta) -> WithdrawalPolicy:
        return WithdrawalPolicy(
            per_transaction_max=self.withdrawal_max,
            daily_max=self.withdrawal_daily_max,
            four_eyes_from=self.four_eyes_from,
            deadline=deadline,
            per_transaction_min=self.withdrawal_min,
        )


AMOUNT_FIELDS = tuple(f.name for f in fields(CurrencyLimits) if f.name != "currency")
LABELS: dict[str, str] = {
    "deposit_min": "smallest deposit",
    "deposit_max": "largest deposit",
    "deposit_daily_max": "deposits per day",
    "withdrawal_min": "smallest withdrawal",
    "withdrawal_max": "largest withdrawal",
    "withdrawal_daily_max": "withdrawals per day",
    "four_eyes_from": "four-eyes threshold",
}


def default_limits(settings: Settings, currency: str) -> CurrencyLimits:
    return CurrencyLimits(
        currency=currency,
        deposit_min=0,
        deposit_max=DEFAULT_DEPOSIT_MAX_MINOR,
        deposit_daily_max=DEFAULT_DEPOSIT_DAILY_MAX_MINOR,
        withdrawal_min=0,
        withdrawal_max=settings.withdrawal_max_minor,
        withdrawal_daily_max=settings.withdrawal_daily_max_minor,
        four_eyes_from=settings.withdrawal_four_eyes_minor,
    )


def _from_json(base: CurrencyLimits, value: Mapping[str, Any]) -> CurrencyLimits:
    stored: dict[str, Any] = {
        name: int(value[name]) for name in AMOUNT_FIELDS if isinstance(value.get(name), int)
    }
    return replace(base, **stored)


async def load_limits(
    session: AsyncSession, settings: Settings, currencies: Iterable[str] | None = None
) -> dict[str, CurrencyLimits]:
    stored = await read_value(session, LIMITS_KEY) or {}
    answer: dict[str, CurrencyLimits] = {}
    for currency in currencies or settings.cashier_currency_list:
        base = default_limits(settings, currency)
        entry = stored.get(currency)
        answer[currency] = _from_json(base, entry) if isinstance(entry, Mapping) else base
    return answer


async def limits_for(session: AsyncSession, settings: Settings, currency: str) -> CurrencyLimits:
    return (await load_limits(session, settings, [currency]))[currency]


async def current_limits(db: Database, settings: Settings, currency: str) -> CurrencyLimits:
    """The limits in force now, read in a short session of their own."""
    async with db.read_session() as session:
        return await limits_for(session, settings, currency)


async def current_withdrawal_policy(db: Database, settings: Settings, currency: str) -> WithdrawalPolicy:
    limits = await current_limits(db, settings, currency)
    return limits.withdrawal_policy(timedelta(hours=settings.withdrawal_deadline_hours))


def limits_to_json(limits: Mapping[str, CurrencyLimits]) -> dict[str, Any]:
    return {currency: item.as_json() for currency, item in sorted(limits.items())}


def validate_limits(item: CurrencyLimits) -> None:
    """Refuse limits that contradict each other; the message names the field at fault."""
    c = item.currency

    def refuse(name: str, message: str) -> None:
        raise InvalidSettingError(f"{c}_{name}", f"{c} {LABELS[name]}: {message}")

    for name in AMOUNT_FIELDS:
        if getattr(item, name) < 0:
            refuse(name, "cannot be negative.")
    if item.deposit_max <= 0:
        refuse("deposit_max", "must be more than zero.")
    if item.withdrawal_max <= 0:
        refuse("withdrawal_max", "must be more than zero.")
    if item.deposit_min > item.deposit_max:
        refuse("deposit_min", "cannot be more than the largest deposit.")
    if item.deposit_daily_max < item.deposit_max:
        refuse("deposit_daily_max", "must be at least the largest single deposit.")
    if item.withdrawal_min > item.withdrawal_max:
        refuse("withdrawal_min", "cannot be more than the largest withdrawal.")
    if item.withdrawal_daily_max < item.withdrawal_max:
        refuse("withdrawal_daily_max", "must be at least the largest single withdrawal.")


def parse_limits(form: Mapping[str, str], scales: Mapping[str, int]) -> dict[str, CurrencyLimits]:
    """Fields ``<CUR>_<limit>`` typed in major units (``"5000.00"``), stored in minor units."""
    answer: dict[str, CurrencyLimits] = {}
    for currency, scale in scales.items():
        values: dict[str, int] = {}
        for name in AMOUNT_FIELDS:
            raw = (form.get(f"{currency}_{name}", "") or "").strip()
            if raw.startswith("-"):
                raise InvalidSettingError(
                    f"{currency}_{name}", f"{currency} {LABELS[name]}: cannot be negative."
                )
            try:
                values[name] = money.parse_amount(raw, scale, allow_zero=True)
            except money.InvalidAmountError as exc:
                raise InvalidSettingError(f"{currency}_{name}", f"{currency} {LABELS[name]}: {exc}") from None
        item = CurrencyLimits(currency=currency, **values)
        validate_limits(item)
        answer[currency] = item
    return answer


async def policy_for_withdrawal(db: Database, settings: Settings, withdrawal_id: int) -> WithdrawalPolicy:
    """The policy in force now for an existing withdrawal's currency (its four-eyes threshold)."""
    from cashier.models import Withdrawal

    async with db.session() as session:
        withdrawal = await session.get(Withdrawal, withdrawal_id)
        currency = withdrawal.currency if withdrawal else ""
        limits = await limits_for(session, settings, currency) if currency else default_limits(settings, "")
    return limits.withdrawal_policy(timedelta(hours=settings.withdrawal_deadline_hours))
