"""The client's risk level: countries, PEP and sanctions declarations, the questionnaire."""

from __future__ import annotations

from dataclasses import dataclass

from kyc.config import CountryLists
from kyc.models import RiskLevel

_ORDER = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


@dataclass(frozen=True)
class RiskInputs:
    nationality: str
    country_of_residence: str
    tax_residence: str
    is_pep: bool
    is_sanctioned: bool
    questionnaire_passed: bool | None


@dataclass(frozen=True)
class RiskAssessment:
    level: RiskLevel
    reasons: tuple[str, ...]
    blocked: bool


def assess_risk(inputs: RiskInputs, lists: CountryLists) -> RiskAssessment:
    """The highest level any single factor calls for, with every factor named as a reason."""
    level = RiskLevel.LOW
    reasons: list[str] = []

    def raise_to(candidate: RiskLevel, reason: str) -> None:
        nonlocal level
        reasons.append(reason)
        if _ORDER[candidate] > _ORDER[level]:
            level = candidate

    countries = {
        "nationality": inputs.nationality,
        "residence": inputs.country_of_residence,
        "tax residence": inputs.tax_residence,
    }
    blocked = False
    for label, code in countries.items():
        if code in lists.blocked:
            blocked = True
            raise_to(RiskLevel.HIGH, f"{label} {code} is a blocked country")
        elif code in lists.high_risk:
            raise_to(RiskLevel.HIGH, f"{label} {code} is a high-risk country")
    if inputs.is_pep:
        raise_to(RiskLevel.HIGH, "declared a politically exposed person")
    if inputs.is_sanctioned:
        blocked = True
        raise_to(RiskLevel.HIGH, "declared on a sanctions list")
    if inputs.questionnaire_passed is False:
        raise_to(RiskLevel.MEDIUM, "appropriateness score below the threshold")
    return RiskAssessment(level=level, reasons=tuple(reasons), blocked=blocked)
