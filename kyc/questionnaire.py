"""Scoring the appropriateness questionnaire."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kyc.config import QuestionnaireConfig, load_questionnaire
from kyc.errors import InvalidProfileError
from kyc.models import KycQuestionnaireResponse


@dataclass(frozen=True)
class QuestionnaireResult:
    score: int
    threshold: int

    @property
    def passed(self) -> bool:
        return self.score >= self.threshold


def score_answers(config: QuestionnaireConfig, answers: dict[str, str]) -> QuestionnaireResult:
    """Sum the points of each answer; every question must be answered with one of its choices."""
    errors: dict[str, str] = {}
    score = 0
    for question in config.questions:
        choice = next((c for c in question.choices if c.value == answers.get(question.key)), None)
        if choice is None:
            errors[question.key] = "Please choose one of the answers."
        else:
            score += choice.points
    if errors:
        raise InvalidProfileError(errors)
    return QuestionnaireResult(score=score, threshold=config.threshold)


async def submit_questionnaire(
    session: AsyncSession, client_id: int, answers: dict[str, str], *, acknowledge_warning: bool = False
) -> KycQuestionnaireResponse:
    """Score and store the answers. Below the threshold the client must confirm the warning."""
    config = await load_questionnaire(session)
    result = score_answers(config, answers)
    if not result.passed and not acknowledge_warning:
        raise InvalidProfileError(
            {
                "warning": "Your answers suggest these products may not be appropriate for you. "
                "Please confirm that you understand the risks to continue."
            }
        )
    response = KycQuestionnaireResponse(
        client_id=client_id,
        answers={q.key: answers[q.key] for q in config.questions},
        score=result.score,
        threshold=result.threshold,
        passed=result.passed,
        warning_acknowledged=not result.passed and acknowledge_warning,
    )
    session.add(response)
    await session.flush()
    return response
