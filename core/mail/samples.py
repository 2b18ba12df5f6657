"""Sample contexts for previewing mail templates: the same names the real mail path passes.

A template nobody listed here gets a string for every name it uses, so it still previews.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, meta

from core.mail.templates import TemplateSources

LINK = "https://portal.example.com/kyc"
SAMPLE_CONTEXTS: dict[str, dict[str, Any]] = {
    "kyc_decision": {"approved": False, "level": "basic", "reason": "The photo is blurred.", "link": LINK},
    "kyc_document_expiring": {
        "documents": [{"kind": "passport", "side": "single", "expires_on": "2027-01-31"}],
        "link": LINK,
    },
    "kyc_document_reviewed": {
        "approved": False,
        "kind": "passport",
        "side": "single",
        "reason": "The photo is blurred.",
        "link": LINK,
    },
    "reset_password": {"link": "https://portal.example.com/reset-password/sample-token", "minutes": 60},
    "security_notice": {"event": "Two-factor authentication was switched on."},
    "support_reply": {
        "ticket_id": 1042,
        "ticket_subject": "My deposit has not arrived",
        "body": "Thank you for waiting. Your deposit was credited a moment ago.",
        "marker": "-- Reply above this line --",
        "link": "https://portal.example.com/support/1042",
    },
    "trading_account_opened": {
        "email": "client@example.com",
        "account_type": "Standard",
        "awaiting_approval": False,
        "is_demo": False,
        "login": 500123,
        "server": "MT5 Live",
        "main_password": "Sample-Pass-1",
        "investor_password": "Sample-Read-2",
    },
    "trading_password_reset": {
        "email": "client@example.com",
        "kind": "main",
        "login": 500123,
        "server": "MT5 Live",
        "password": "Sample-Pass-1",
    },
    "trading_request_decided": {
        "approved": True,
        "opening": True,
        "login": 500123,
        "leverage": 100,
        "reason": "",
    },
    "verify_email": {"link": "https://portal.example.com/verify-email/sample-token", "hours": 48},
}
SAMPLE_COMPANY = {
    "legal_name": "BrokerDesk Demo Ltd",
    "registration_number": "12345678",
    "address": "1 Example Street, London",
    "support_email": "support@example.com",
    "support_phone": "+44 20 0000 0000",
    "website": "https://www.example.com",
}


def sample_context(
    name: str, sources: TemplateSources, company: dict[str, str] | None = None
) -> dict[str, Any]:
    """What a preview renders ``name`` with; ``company`` is what every real mail carries."""
    known = SAMPLE_CONTEXTS.get(name)
    if known is None:
        environment = Environment(autoescape=True)  # parsed for names only, never rendered
        names: set[str] = set()
        for source in (sources.subject, sources.text, sources.html):
            names |= meta.find_undeclared_variables(environment.parse(source))
        known = {variable: f"<{variable}>" for variable in sorted(names) if variable != "company"}
    return {**known, "company": company or SAMPLE_COMPANY}
