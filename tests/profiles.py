"""A KYC profile row for tests that need a client's country, name or tax number but not the wizard."""

from __future__ import annotations

from datetime import date
from typing import Any

from kyc.models import KycProfileVersion


def profile_row(client_id: int, country: str, *, version: int = 1, **fields: Any) -> KycProfileVersion:
    """A complete, unremarkable profile living in ``country``; ``fields`` override any column."""
    values: dict[str, Any] = {
        "first_name": "Ada",
        "last_name": "Example",
        "birth_date": date(1990, 1, 1),
        "nationality": country,
        "country_of_residence": country,
        "address_line": "1 Road",
        "city": "Town",
        "postal_code": "1000",
        "phone": "+441234567890",
        "tax_residence": country,
        "tin": "",
        "employment_status": "employed",
        "source_of_funds": "salary",
        "is_pep": False,
        "is_sanctioned": False,
        "created_by": client_id,
    }
    return KycProfileVersion(client_id=client_id, version=version, **(values | fields))
