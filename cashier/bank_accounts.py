"""Saved bank accounts for withdrawals: IBAN (mod-97) and SWIFT/BIC checked, staff-verified, audited.

Card numbers are never stored: there is no column for one, and a number that looks like a card
(13-19 digits passing the Luhn check) is refused rather than saved as an account number.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from cashier.errors import InvalidBankAccountError, InvalidStateError, NotFoundError
from cashier.models import BankAccount, BankAccountStatus
from cashier.transactions import money_transaction
from core.audit.service import Actor, record_audit
from core.db import Database

IBAN_LENGTHS = {
    "AD": 24,
    "AT": 20,
    "BE": 16,
    "BG": 22,
    "CH": 21,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "EE": 20,
    "ES": 24,
    "FI": 18,
    "FR": 27,
    "GB": 22,
    "GI": 23,
    "GR": 27,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IS": 26,
    "IT": 27,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MT": 31,
    "NL": 18,
    "NO": 15,
    "PL": 28,
    "PT": 25,
    "RO": 24,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "AE": 23,
    "SA": 24,
    "TR": 26,
}
"""Countries that use IBANs, with their IBAN length; elsewhere an account number is taken instead."""

BIC = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
ACCOUNT_NUMBER = re.compile(r"^[A-Z0-9]{4,34}$")


def compact(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "").upper()


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: country length, then the mod-97 check over the rearranged digits equals 1."""
    value = compact(iban)
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", value) or IBAN_LENGTHS.get(value[:2]) != len(value):
        return False
    digits = "".join(str(int(char, 36)) for char in value[4:] + value[:4])
    return int(digits) % 97 == 1


def bic_is_valid(bic: str) -> bool:
    return bool(BIC.fullmatch(compact(bic)))


def looks_like_card(number: str) -> bool:
    """13-19 digits that pass the Luhn check: a payment card number, which we must not keep."""
    digits = re.sub(r"[\s-]", "", number or "")
    if not (digits.isascii() and digits.isdigit()) or not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char) * (2 if index % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def _view(account: BankAccount) -> dict[str, object]:
    return {
        "holder_name": account.holder_name,
        "iban": account.iban,
        "account_number": account.account_number,
        "bic": account.bic,
        "country": account.country,
        "currency": account.currency,
        "status": account.status,
    }


async def add_bank_account(
    db: Database,
    *,
    client_id: int,
    holder_name: str,
    country: str,
    number: str,
    bic: str,
    bank_name: str,
    currency: str,
    actor: Actor,
) -> BankAccount:
    """Save an account; in an IBAN country the number must be a valid IBAN of that country."""
    country = compact(country)[:2]
    holder = " ".join((holder_name or "").split())
    if len(country) != 2 or not country.isalpha():
        raise InvalidBankAccountError("Choose the bank's country.")
    if not 2 <= len(holder) <= 140:
        raise InvalidBankAccountError("Enter the account holder's name as the bank knows it.")
    if looks_like_card(number):
        raise InvalidBankAccountError("Card numbers are not accepted; enter a bank account number or IBAN.")
    value = compact(number)
    iban: str | None = None
    account_number: str | None = None
    if country in IBAN_LENGTHS:
        if not iban_is_valid(value) or value[:2] != country:
            raise InvalidBankAccountError("This IBAN is not valid; check it against your bank statement.")
        iban = value
    elif ACCOUNT_NUMBER.fullmatch(value):
        account_number = value
    else:
        raise InvalidBankAccountError("Enter the account number (letters and digits only).")
    if not bic_is_valid(bic):
        raise InvalidBankAccountError("This SWIFT/BIC code is not valid (8 or 11 letters and digits).")
    account = BankAccount(
        client_id=client_id,
        holder_name=holder,
        iban=iban,
        account_number=account_number,
        bic=compact(bic),
        bank_name=" ".join((bank_name or "").split())[:140] or "-",
        country=country,
        currency=currency,
        status=BankAccountStatus.UNVERIFIED,
    )
    async with money_transaction(db) as session:
        session.add(account)
        await session.flush()
        await record_audit(
            session,
            actor,
            "cashier.bank_account_added",
            target_type="bank_account",
            target_id=account.id,
            after=_view(account),
        )
    return account


async def _change_status(
    db: Database, account_id: int, status: BankAccountStatus, actor: Actor, client_id: int | None = None
) -> BankAccount:
    async with money_transaction(db) as session:
        statement = select(BankAccount).where(BankAccount.id == account_id).with_for_update()
        if client_id is not None:
            statement = statement.where(BankAccount.client_id == client_id)
        account = await session.scalar(statement)
        if account is None:
            raise NotFoundError("No such bank account.")
        if account.status == BankAccountStatus.REMOVED:
            raise InvalidStateError("This bank account was removed.")
        before = _view(account)
        account.status = status
        if status is BankAccountStatus.VERIFIED:
            account.verified_by = actor.id
        await record_audit(
            session,
            actor,
            f"cashier.bank_account_{status.value}",
            target_type="bank_account",
            target_id=account.id,
            before=before,
            after=_view(account),
        )
        return account


async def verify_bank_account(db: Database, account_id: int, actor: Actor) -> BankAccount:
    """Staff checked the account is in the client's own name."""
    return await _change_status(db, account_id, BankAccountStatus.VERIFIED, actor)


async def reject_bank_account(db: Database, account_id: int, actor: Actor) -> BankAccount:
    return await _change_status(db, account_id, BankAccountStatus.REJECTED, actor)


async def remove_bank_account(db: Database, account_id: int, client_id: int, actor: Actor) -> BankAccount:
    """The client removes one of their own accounts (kept for history, no longer usable)."""
    return await _change_status(db, account_id, BankAccountStatus.REMOVED, actor, client_id)


async def client_bank_accounts(db: Database, client_id: int) -> list[BankAccount]:
    async with db.session() as session:
        rows = await session.scalars(
            select(BankAccount)
            .where(BankAccount.client_id == client_id, BankAccount.status != BankAccountStatus.REMOVED)
            .order_by(BankAccount.id)
        )
        return list(rows)
