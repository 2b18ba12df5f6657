"""What every settings screen shares: the index of screens, the history list, long forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request

LONG_FIELD = 65_536


@dataclass(frozen=True)
class Screen:
    """One settings screen on the index: where it is and which permission opens it."""

    label: str
    path: str
    permission: str
    description: str


SCREENS: tuple[Screen, ...] = (
    Screen(
        "Company details",
        "/settings/company",
        "settings.company",
        "Legal name, registration, address, support contacts.",
    ),
    Screen(
        "Bank details",
        "/settings/bank",
        "settings.bank",
        "The bank-wire instructions clients see, per currency.",
    ),
    Screen(
        "Limits",
        "/settings/limits",
        "settings.limits",
        "Deposit and withdrawal limits and the four-eyes threshold.",
    ),
    Screen("Fees", "/settings/fees", "settings.fees", "Deposit and withdrawal fees per method."),
    Screen(
        "KYC: questionnaire and country lists",
        "/settings/kyc",
        "settings.edit",
        "Appropriateness test, high-risk and blocked countries.",
    ),
    Screen(
        "Mail templates",
        "/settings/mail-templates",
        "mail.templates",
        "Subject, text and HTML of every mail, in both languages.",
    ),
    Screen(
        "Announcements",
        "/settings/announcements",
        "announcements.manage",
        "Messages to clients in the portal, by audience and schedule.",
    ),
    Screen(
        "Client figures",
        "/settings/analytics",
        "settings.analytics",
        "Churn-risk inactivity and balance, and the value tiers' thresholds.",
    ),
)


async def long_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Form fields without the CSRF token, each capped at 64 KB (templates are longer than the
    ordinary field limit)."""
    form = await request.form()
    return {key: str(value)[:LONG_FIELD] for key, value in form.items() if key != "_csrf_token"}


def version_of(form: dict[str, str]) -> int | None:
    raw = (form.get("version") or "").strip()
    return int(raw) if raw.isdigit() else -1
