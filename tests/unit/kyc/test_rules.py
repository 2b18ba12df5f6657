"""KYC rules that need no database: validation, countries, scoring, risk, sniffing, signatures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from core.sniffing import sniff_content_type
from kyc.config import CountryLists, QuestionnaireConfig
from kyc.countries import countries
from kyc.errors import InvalidProfileError, WebhookRejectedError
from kyc.models import RiskLevel
from kyc.profile import ProfileInput, validate_profile
from kyc.providers import SandboxProvider, sign
from kyc.questionnaire import score_answers
from kyc.risk import RiskInputs, assess_risk

TODAY = date(2026, 11, 22)
VALID = ProfileInput(
    first_name="Demo",
    last_name="Trader",
    birth_date="1990-04-01",
    nationality="GB",
    country_of_residence="GB",
    address_line="1 Example Street",
    city="Exampleton",
    postal_code="EX1 1AA",
    phone="+44 20 7946 0000",
    tax_residence="GB",
    tin="AB123456C",
    employment_status="employed",
    source_of_funds="salary",
)


def with_fields(**changes: object) -> ProfileInput:
    return ProfileInput(**{**VALID.__dict__, **changes})  # type: ignore[arg-type]


def test_valid_profile_has_no_errors() -> None:
    assert validate_profile(VALID, TODAY) == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("birth_date", "2010-01-01", "at least 18"),
        ("birth_date", "1990-02-30", "real date"),
        ("birth_date", "2030-01-01", "real date of birth"),
        ("birth_date", "1850-01-01", "real date of birth"),
        ("nationality", "XX", "country from the list"),
        ("phone", "07946 000000", "international format"),
        ("employment_status", "astronaut", "one of the options"),
        ("first_name", "", "required"),
        ("first_name", "x" * 101, "too long"),
    ],
)
def test_bad_fields_are_refused_with_a_message(field: str, value: str, message: str) -> None:
    errors = validate_profile(with_fields(**{field: value}), TODAY)
    assert list(errors) == [field]
    assert message in errors[field]


def test_turning_eighteen_today_is_allowed() -> None:
    assert validate_profile(with_fields(birth_date="2008-11-22"), TODAY) == {}
    assert "birth_date" in validate_profile(with_fields(birth_date="2008-11-23"), TODAY)


def test_country_list_is_iso_3166_in_both_languages() -> None:
    english, chinese = countries("en"), countries("zh_Hans")
    assert len(english) == 249
    assert set(english) == set(chinese)
    assert english["CN"] == "China"
    assert chinese["CN"] == "中国"


def test_questionnaire_scores_and_threshold() -> None:
    config = QuestionnaireConfig()
    best = {q.key: max(q.choices, key=lambda c: c.points).value for q in config.questions}
    worst = {q.key: min(q.choices, key=lambda c: c.points).value for q in config.questions}
    assert score_answers(config, best).score == config.max_score
    assert score_answers(config, best).passed
    assert not score_answers(config, worst).passed
    with pytest.raises(InvalidProfileError) as error:
        score_answers(config, {**best, "stop_out": "made-up"})
    assert list(error.value.errors) == ["stop_out"]


def test_risk_takes_the_highest_factor_and_names_each() -> None:
    lists = CountryLists(high_risk=frozenset({"AF"}), blocked=frozenset({"KP"}))
    low = assess_risk(RiskInputs("GB", "GB", "GB", False, False, True), lists)
    assert (low.level, low.blocked) == (RiskLevel.LOW, False)
    medium = assess_risk(RiskInputs("GB", "GB", "GB", False, False, False), lists)
    assert medium.level is RiskLevel.MEDIUM
    high = assess_risk(RiskInputs("GB", "AF", "GB", True, False, False), lists)
    assert high.level is RiskLevel.HIGH
    assert len(high.reasons) == 3
    blocked = assess_risk(RiskInputs("KP", "GB", "GB", False, False, True), lists)
    assert blocked.blocked


def test_sniffing_goes_by_content_not_name() -> None:
    assert sniff_content_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff_content_type(b"\x89PNG\r\n\x1a\nrest") == "image/png"
    assert sniff_content_type(b"%PDF-1.7\n") == "application/pdf"
    assert sniff_content_type(b"MZ\x90\x00 windows executable") is None
    assert sniff_content_type(b"\x7fELF") is None


def _webhook(secret: bytes, payload: dict[str, object], timestamp: int) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    return {"X-Kyc-Signature": sign(secret, timestamp, body)}, body


def test_sandbox_webhook_signature_checks() -> None:
    provider = SandboxProvider(b"sandbox-secret")
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    payload = {"event_id": "ev-1", "client_id": 5, "verdict": "green"}
    headers, body = _webhook(b"sandbox-secret", payload, int(now.timestamp()))
    assert provider.parse_webhook(headers, body, now).verdict == "green"

    forged_headers, _ = _webhook(b"wrong-secret", payload, int(now.timestamp()))
    with pytest.raises(WebhookRejectedError, match="bad signature"):
        provider.parse_webhook(forged_headers, body, now)
    with pytest.raises(WebhookRejectedError, match="bad signature"):
        provider.parse_webhook(headers, body.replace(b"green", b"red  "), now)
    stale_headers, stale_body = _webhook(b"sandbox-secret", payload, int(now.timestamp()) - 3600)
    with pytest.raises(WebhookRejectedError, match="stale"):
        provider.parse_webhook(stale_headers, stale_body, now)
    with pytest.raises(WebhookRejectedError, match="malformed"):
        provider.parse_webhook({}, body, now)
