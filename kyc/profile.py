"""The client's profile: validation field by field, and saving as a new version."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kyc.countries import is_country
from kyc.errors import InvalidProfileError
from kyc.models import KycProfileVersion

EMPLOYMENT_STATUSES = ("employed", "self_employed", "unemployed", "retired", "student")
SOURCES_OF_FUNDS = ("salary", "business", "savings", "investments", "inheritance", "pension", "other")
MINIMUM_AGE_YEARS = 18
OLDEST_AGE_YEARS = 120
MAX_LENGTHS = {"first_name": 100, "last_name": 100, "address_line": 200, "city": 100, "postal_code": 20}
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_TIN = re.compile(r"^[A-Za-z0-9 ./-]{3,64}$")


@dataclass(frozen=True)
class ProfileInput:
    """The wizard's fields as the client typed them (strings), before validation."""

    first_name: str = ""
    last_name: str = ""
    birth_date: str = ""
    nationality: str = ""
    country_of_residence: str = ""
    address_line: str = ""
    city: str = ""
    postal_code: str = ""
    phone: str = ""
    tax_residence: str = ""
    tin: str = ""
    employment_status: str = ""
    source_of_funds: str = ""
    is_pep: bool = False
    is_sanctioned: bool = False


WIZARD_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("identity", ("first_name", "last_name", "birth_date", "nationality")),
    ("address", ("country_of_residence", "address_line", "city", "postal_code", "phone")),
    ("tax", ("tax_residence", "tin")),
    ("finances", ("employment_status", "source_of_funds", "is_pep", "is_sanctioned")),
)


def _age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def validate_fields(data: ProfileInput, names: tuple[str, ...], today: date) -> dict[str, str]:
    """Messages for the invalid fields among ``names``; empty when they are all fine."""
    errors: dict[str, str] = {}
    for name in names:
        value = getattr(data, name)
        if isinstance(value, bool):
            continue
        value = value.strip()
        if not value:
            errors[name] = "This field is required."
            continue
        if len(value) > MAX_LENGTHS.get(name, 64):
            errors[name] = "This is too long."
        elif name == "birth_date":
            try:
                birth = date.fromisoformat(value)
            except ValueError:
                errors[name] = "Enter a real date as YYYY-MM-DD."
                continue
            age = _age_on(birth, today)
            if birth > today or age > OLDEST_AGE_YEARS:
                errors[name] = "Enter your real date of birth."
            elif age < MINIMUM_AGE_YEARS:
                errors[name] = f"You must be at least {MINIMUM_AGE_YEARS} years old."
        elif name in {"nationality", "country_of_residence", "tax_residence"} and not is_country(
            value.upper()
        ):
            errors[name] = "Choose a country from the list."
        elif name == "phone" and not _PHONE.match(value.replace(" ", "")):
            errors[name] = "Enter the number in international format, such as +44 20 7946 0000."
        elif name == "tin" and not _TIN.match(value):
            errors[name] = "Enter your tax identification number as shown on your tax documents."
        elif (name == "employment_status" and value not in EMPLOYMENT_STATUSES) or (
            name == "source_of_funds" and value not in SOURCES_OF_FUNDS
        ):
            errors[name] = "Choose one of the options."
    return errors


def validate_profile(data: ProfileInput, today: date) -> dict[str, str]:
    return validate_fields(data, tuple(f.name for f in fields(ProfileInput)), today)


async def latest_profile(session: AsyncSession, client_id: int) -> KycProfileVersion | None:
    return await session.scalar(
        select(KycProfileVersion)
        .where(KycProfileVersion.client_id == client_id)
        .order_by(KycProfileVersion.version.desc())
        .limit(1)
    )


async def add_profile_version(
    session: AsyncSession, client_id: int, data: ProfileInput, *, actor_id: int, today: date
) -> KycProfileVersion:
    """Validate and store the profile as the client's next version; nothing is stored if invalid."""
    errors = validate_profile(data, today)
    if errors:
        raise InvalidProfileError(errors)
    current = await session.scalar(
        select(func.max(KycProfileVersion.version)).where(KycProfileVersion.client_id == client_id)
    )
    profile = KycProfileVersion(
        client_id=client_id,
        version=(current or 0) + 1,
        first_name=data.first_name.strip(),
        last_name=data.last_name.strip(),
        birth_date=date.fromisoformat(data.birth_date.strip()),
        nationality=data.nationality.strip().upper(),
        country_of_residence=data.country_of_residence.strip().upper(),
        address_line=data.address_line.strip(),
        city=data.city.strip(),
        postal_code=data.postal_code.strip(),
        phone=data.phone.replace(" ", "").strip(),
        tax_residence=data.tax_residence.strip().upper(),
        tin=data.tin.strip(),
        employment_status=data.employment_status.strip(),
        source_of_funds=data.source_of_funds.strip(),
        is_pep=data.is_pep,
        is_sanctioned=data.is_sanctioned,
        created_by=actor_id,
    )
    session.add(profile)
    await session.flush()
    return profile
