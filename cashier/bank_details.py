"""The bank-wire instructions clients see on the deposit page, per currency.

Stored in :mod:`core.config_store` (key ``cashier.bank_details``) as one entry per currency;
a currency with no stored entry shows the environment's defaults (``BROKERDESK_BANK_*``). The
payment reference is built from a format with one placeholder, ``{client_id}``, so finance can
match an incoming wire to its client.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cashier.bank_accounts import bic_is_valid, compact, iban_is_valid
from core.config_store import InvalidSettingError, read_value
from core.settings import Settings

BANK_DETAILS_KEY = "cashier.bank_details"
DEFAULT_REFERENCE_FORMAT = "C{client_id}"
PLACEHOLDER = "client_id"


@dataclass(frozen=True)
class BankInstructions:
    """Where a client wires money in one currency."""

    currency: str
    beneficiary: str
    bank_name: str
    iban: str
    account_number: str
    bic: str
    reference_format: str = DEFAULT_REFERENCE_FORMAT

    def reference_for(self, client_id: int) -> str:
        return self.reference_format.format(client_id=client_id)

    def as_json(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if k != "currency"}


def default_instructions(settings: Settings, currency: str) -> BankInstructions:
    return BankInstructions(
        currency=currency,
        beneficiary=settings.bank_beneficiary,
        bank_name=settings.bank_name,
        iban=settings.bank_iban,
        account_number="",
        bic=settings.bank_bic,
    )


def _from_json(currency: str, value: Mapping[str, Any]) -> BankInstructions:
    return BankInstructions(
        currency=currency,
        beneficiary=str(value.get("beneficiary", "")),
        bank_name=str(value.get("bank_name", "")),
        iban=str(value.get("iban", "")),
        account_number=str(value.get("account_number", "")),
        bic=str(value.get("bic", "")),
        reference_format=str(value.get("reference_format") or DEFAULT_REFERENCE_FORMAT),
    )


async def load_bank_details(
    session: AsyncSession, settings: Settings, currencies: Iterable[str] | None = None
) -> dict[str, BankInstructions]:
    """Instructions for each currency (the cashier's currencies unless given), stored or default."""
    stored = await read_value(session, BANK_DETAILS_KEY) or {}
    answer: dict[str, BankInstructions] = {}
    for currency in currencies or settings.cashier_currency_list:
        entry = stored.get(currency)
        answer[currency] = (
            _from_json(currency, entry)
            if isinstance(entry, Mapping)
            else default_instructions(settings, currency)
        )
    return answer


def bank_details_to_json(details: Mapping[str, BankInstructions]) -> dict[str, Any]:
    return {currency: item.as_json() for currency, item in sorted(details.items())}


def check_reference_format(value: str, field: str, label: str) -> str:
    """One ``{client_id}`` placeholder and nothing else that ``str.format`` would interpret."""
    value = value.strip()
    if not value:
        return DEFAULT_REFERENCE_FORMAT
    try:
        names = [name for _text, name, _spec, _conv in string.Formatter().parse(value) if name is not None]
    except ValueError:
        raise InvalidSettingError(field, f"{label}: unbalanced braces; write {{client_id}} once.") from None
    if names != [PLACEHOLDER]:
        raise InvalidSettingError(field, f"{label}: the reference must contain {{client_id}} exactly once.")
    if len(value) > 40:
        raise InvalidSettingError(field, f"{label}: at most 40 characters.")
    return value


def parse_bank_details(form: Mapping[str, str], currencies: Iterable[str]) -> dict[str, BankInstructions]:
    """One block of fields per currency, named ``<CUR>_<field>``; each block is checked on its own."""
    answer: dict[str, BankInstructions] = {}
    for currency in currencies:

        def get(name: str, currency: str = currency) -> str:
            return " ".join((form.get(f"{currency}_{name}", "") or "").split())

        beneficiary, bank_name = get("beneficiary"), get("bank_name")
        iban, account_number, bic = compact(get("iban")), get("account_number"), compact(get("bic"))
        if not beneficiary:
            raise InvalidSettingError(f"{currency}_beneficiary", f"{currency} beneficiary: required.")
        if not bank_name:
            raise InvalidSettingError(f"{currency}_bank_name", f"{currency} bank: required.")
        if len(beneficiary) > 140 or len(bank_name) > 140 or len(account_number) > 40:
            raise InvalidSettingError(f"{currency}_beneficiary", f"{currency}: a field is too long.")
        if not iban and not account_number:
            raise InvalidSettingError(
                f"{currency}_iban", f"{currency} IBAN: give an IBAN or an account number."
            )
        if iban and not iban_is_valid(iban):
            raise InvalidSettingError(f"{currency}_iban", f"{currency} IBAN: this IBAN is not valid.")
        if not bic_is_valid(bic):
            raise InvalidSettingError(
                f"{currency}_bic", f"{currency} SWIFT/BIC: not valid (8 or 11 letters and digits)."
            )
        reference = check_reference_format(
            form.get(f"{currency}_reference_format", "") or "",
            f"{currency}_reference_format",
            f"{currency} reference format",
        )
        answer[currency] = BankInstructions(
            currency, beneficiary, bank_name, iban, account_number, bic, reference
        )
    return answer
