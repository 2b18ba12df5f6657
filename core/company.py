"""The broker's own details: legal name, registration, address and how clients reach support.

Stored in :mod:`core.config_store` (key ``company``); both apps and the mails read them, so they
live in core. The portal footer and every mail's footer show them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.config_store import InvalidSettingError, read_value

COMPANY_KEY = "company"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{4,30}$")
WEBSITE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


@dataclass(frozen=True)
class CompanyDetails:
    legal_name: str = "BrokerDesk Demo Ltd"
    registration_number: str = ""
    address: str = ""
    support_email: str = ""
    support_phone: str = ""
    website: str = ""

    def as_json(self) -> dict[str, str]:
        return asdict(self)


FIELD_LIMITS: dict[str, int] = {
    "legal_name": 200,
    "registration_number": 64,
    "address": 500,
    "support_email": 320,
    "support_phone": 40,
    "website": 300,
}
FIELD_NAMES = tuple(f.name for f in fields(CompanyDetails))
LABELS: dict[str, str] = {
    "legal_name": "Legal name",
    "registration_number": "Registration number",
    "address": "Address",
    "support_email": "Support email",
    "support_phone": "Support phone",
    "website": "Website",
}


def company_from_json(value: Mapping[str, Any] | None) -> CompanyDetails:
    if not value:
        return CompanyDetails()
    return CompanyDetails(**{name: str(value.get(name, "")) for name in FIELD_NAMES})


async def load_company(session: AsyncSession) -> CompanyDetails:
    return company_from_json(await read_value(session, COMPANY_KEY))


def parse_company(form: Mapping[str, str]) -> CompanyDetails:
    """Company details from a submitted form; :class:`InvalidSettingError` names the bad field."""
    values: dict[str, str] = {}
    for name in FIELD_NAMES:
        raw = form.get(name, "") or ""
        value = raw.strip() if name == "address" else " ".join(raw.split())
        if len(value) > FIELD_LIMITS[name]:
            raise InvalidSettingError(name, f"{LABELS[name]}: at most {FIELD_LIMITS[name]} characters.")
        values[name] = value
    if not values["legal_name"]:
        raise InvalidSettingError("legal_name", "Legal name: the legal name is required.")
    if values["support_email"] and not EMAIL.match(values["support_email"]):
        raise InvalidSettingError("support_email", "Support email: this is not an email address.")
    if values["support_phone"] and not PHONE.match(values["support_phone"]):
        raise InvalidSettingError(
            "support_phone", "Support phone: use digits, spaces and an optional leading +."
        )
    if values["website"] and not WEBSITE.match(values["website"]):
        raise InvalidSettingError("website", "Website: start with http:// or https://.")
    return CompanyDetails(**values)
