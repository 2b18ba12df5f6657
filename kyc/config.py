"""Compliance's KYC settings, stored as JSON in ``kyc_config`` and editable in the back office.

Defaults apply until someone saves a change; every change is audited by the caller.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kyc.countries import is_country
from kyc.errors import InvalidConfigError
from kyc.models import KycConfig


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    points: int


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    choices: tuple[Choice, ...]


DEFAULT_QUESTIONS: tuple[Question, ...] = (
    Question(
        "experience_years",
        "How long have you traded leveraged products (forex, CFDs)?",
        (
            Choice("none", "Never", 0),
            Choice("lt1", "Less than a year", 1),
            Choice("1to3", "1-3 years", 2),
            Choice("gt3", "More than 3 years", 3),
        ),
    ),
    Question(
        "trades_per_year",
        "How many leveraged trades did you make in the last 12 months?",
        (
            Choice("0", "None", 0),
            Choice("1to10", "1-10", 1),
            Choice("11to50", "11-50", 2),
            Choice("gt50", "More than 50", 3),
        ),
    ),
    Question(
        "leverage_loss",
        "With 1:100 leverage, a 1% price move against you changes your margin by about:",
        (
            Choice("1", "1%", 0),
            Choice("10", "10%", 0),
            Choice("100", "100%", 3),
            Choice("unknown", "I don't know", 0),
        ),
    ),
    Question(
        "stop_out",
        "What happens when your margin level falls to the stop-out level?",
        (
            Choice("nothing", "Nothing", 0),
            Choice("closed", "Positions are closed automatically", 3),
            Choice("deposit", "The broker deposits money for me", 0),
        ),
    ),
    Question(
        "qualification",
        "Do you have a qualification or work experience in finance?",
        (Choice("no", "No", 0), Choice("yes", "Yes", 2)),
    ),
)
DEFAULT_THRESHOLD = 7


@dataclass(frozen=True)
class QuestionnaireConfig:
    questions: tuple[Question, ...] = DEFAULT_QUESTIONS
    threshold: int = DEFAULT_THRESHOLD

    @property
    def max_score(self) -> int:
        return sum(max(choice.points for choice in q.choices) for q in self.questions)


@dataclass(frozen=True)
class CountryLists:
    """High-risk countries raise the risk level; blocked countries can't be onboarded at all."""

    high_risk: frozenset[str] = frozenset({"AF", "IR", "KP", "MM", "SY", "YE"})
    blocked: frozenset[str] = frozenset({"KP", "IR"})


@dataclass(frozen=True)
class KycLimits:
    """What a ``basic`` client may deposit before documents are approved, in USD cents."""

    basic_deposit_limit_usd_minor: int = 200_000
    minimum_age_years: int = 18
    expiry_notice_days: int = 30
    extra: dict[str, Any] = field(default_factory=dict)


QUESTIONNAIRE_KEY = "questionnaire"
COUNTRIES_KEY = "countries"
LIMITS_KEY = "limits"


async def _load(session: AsyncSession, key: str) -> dict[str, Any] | None:
    row = await session.get(KycConfig, key)
    return dict(row.value) if row else None


async def _save(session: AsyncSession, key: str, value: dict[str, Any], actor_id: int) -> None:
    row = await session.get(KycConfig, key)
    if row is None:
        session.add(KycConfig(key=key, value=value, updated_by=actor_id))
    else:
        row.value = value
        row.updated_by = actor_id


def questionnaire_from_json(value: dict[str, Any]) -> QuestionnaireConfig:
    questions = tuple(
        Question(
            q["key"], q["text"], tuple(Choice(c["value"], c["label"], int(c["points"])) for c in q["choices"])
        )
        for q in value["questions"]
    )
    return QuestionnaireConfig(questions=questions, threshold=int(value["threshold"]))


async def load_questionnaire(session: AsyncSession) -> QuestionnaireConfig:
    stored = await _load(session, QUESTIONNAIRE_KEY)
    return questionnaire_from_json(stored) if stored else QuestionnaireConfig()


def questionnaire_to_json(config: QuestionnaireConfig) -> dict[str, Any]:
    return asdict(config)


def validate_questionnaire(config: QuestionnaireConfig) -> None:
    """Refuse a questionnaire a client could not answer or a threshold nobody (or everybody) meets."""
    if not config.questions:
        raise InvalidConfigError("The questionnaire needs at least one question.")
    keys = [q.key for q in config.questions]
    if len(set(keys)) != len(keys):
        raise InvalidConfigError("Each question needs its own key.")
    for question in config.questions:
        if not question.key.strip() or not question.text.strip():
            raise InvalidConfigError("Every question needs a key and a text.")
        if len(question.choices) < 2:
            raise InvalidConfigError("Every question needs at least two answers.")
        values = [c.value for c in question.choices]
        if len(set(values)) != len(values) or not all(
            v.strip() and c.label.strip() for v, c in zip(values, question.choices, strict=True)
        ):
            raise InvalidConfigError("Every answer needs its own value and a label.")
        if any(not 0 <= c.points <= 100 for c in question.choices):
            raise InvalidConfigError("Points must be between 0 and 100.")
    if not 0 <= config.threshold <= config.max_score:
        raise InvalidConfigError(f"The threshold must be between 0 and {config.max_score}.")


def parse_questionnaire(questions_json: str, threshold: str) -> QuestionnaireConfig:
    """The questionnaire as staff typed it in the settings page: questions as JSON, a whole-number
    threshold. Raises :class:`InvalidConfigError` with a message staff can act on."""
    try:
        questions = json.loads(questions_json)
    except ValueError:
        raise InvalidConfigError("The questions are not valid JSON.") from None
    try:
        limit = int(threshold.strip())
    except ValueError:
        raise InvalidConfigError("The threshold must be a whole number.") from None
    if not isinstance(questions, list):
        raise InvalidConfigError("The questions must be a JSON list.")
    try:
        config = questionnaire_from_json({"questions": questions, "threshold": limit})
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidConfigError(
            "Each question needs key, text and choices; each choice needs value, label and points."
        ) from None
    if any(not isinstance(q.key, str) or not isinstance(q.text, str) for q in config.questions):
        raise InvalidConfigError("Keys and texts must be strings.")
    validate_questionnaire(config)
    return config


def parse_country_codes(raw: str) -> frozenset[str]:
    """ISO 3166 alpha-2 codes separated by commas, spaces or new lines."""
    codes = {code.strip().upper() for code in raw.replace(",", " ").split() if code.strip()}
    unknown = sorted(code for code in codes if not is_country(code))
    if unknown:
        raise InvalidConfigError("Unknown country codes: " + ", ".join(unknown[:10]))
    return frozenset(codes)


async def save_questionnaire(session: AsyncSession, config: QuestionnaireConfig, actor_id: int) -> None:
    validate_questionnaire(config)
    await _save(session, QUESTIONNAIRE_KEY, asdict(config), actor_id)


async def load_country_lists(session: AsyncSession) -> CountryLists:
    stored = await _load(session, COUNTRIES_KEY)
    if not stored:
        return CountryLists()
    return CountryLists(high_risk=frozenset(stored["high_risk"]), blocked=frozenset(stored["blocked"]))


def country_lists_to_json(lists: CountryLists) -> dict[str, list[str]]:
    return {"high_risk": sorted(lists.high_risk), "blocked": sorted(lists.blocked)}


async def save_country_lists(session: AsyncSession, lists: CountryLists, actor_id: int) -> None:
    value = {"high_risk": sorted(lists.high_risk), "blocked": sorted(lists.blocked)}
    await _save(session, COUNTRIES_KEY, value, actor_id)


async def load_limits(session: AsyncSession) -> KycLimits:
    stored = await _load(session, LIMITS_KEY)
    return KycLimits(**stored) if stored else KycLimits()
