"""Mail to the client about their verification, in their own language.

Rendering mail needs a template engine, which the domain packages do not import, so the caller
passes the outbox's ``queue_mail`` in (:data:`MailQueue`); the apps and the worker pass
:func:`core.mail.outbox.queue_mail`.

The KYC domain owns its messages (field errors, rejection reasons, questionnaire texts) in its
own catalog, ``kyc/locales``; the apps add it to their translators, and mail uses it here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n.catalogs import CORE_LOCALES, Translator
from core.identity.models import User
from kyc.models import CaseStatus, KycCase, KycDocument

KYC_LOCALES = Path(__file__).parent / "locales"
DECISION_MAIL = "kyc_decision"
DOCUMENT_MAIL = "kyc_document_reviewed"

MailQueue = Callable[[AsyncSession, str, str, str, dict[str, Any]], Awaitable[object]]
"""``queue_mail(session, to, template, language, context)``: puts a mail in the outbox."""


@lru_cache(maxsize=1)
def kyc_translator() -> Translator:
    return Translator([KYC_LOCALES, CORE_LOCALES])


def translate(text: str | None, language: str) -> str:
    """``text`` in ``language`` when the KYC catalog knows it (a listed reason); free text as is."""
    if not text:
        return ""
    return kyc_translator().for_language(language).gettext(text)


async def _client(session: AsyncSession, client_id: int) -> User | None:
    user = await session.get(User, client_id)
    return user if user is not None and user.is_active else None


async def notify_case_decision(
    session: AsyncSession, case: KycCase, portal_url: str, *, queue_mail: MailQueue
) -> bool:
    """Mail a final decision (approved or rejected); an interim four-eyes step mails nothing."""
    if case.status not in (CaseStatus.APPROVED, CaseStatus.REJECTED):
        return False
    user = await _client(session, case.client_id)
    if user is None:
        return False
    await queue_mail(
        session,
        user.email,
        DECISION_MAIL,
        user.language,
        {
            "approved": case.status is CaseStatus.APPROVED,
            "level": case.level.value,
            "reason": translate(case.decision_reason, user.language)
            if case.status is CaseStatus.REJECTED
            else "",
            "link": f"{portal_url}/kyc",
        },
    )
    return True


async def notify_document_review(
    session: AsyncSession, document: KycDocument, portal_url: str, *, queue_mail: MailQueue
) -> bool:
    user = await _client(session, document.client_id)
    if user is None:
        return False
    await queue_mail(
        session,
        user.email,
        DOCUMENT_MAIL,
        user.language,
        {
            "approved": document.rejection_reason is None,
            "kind": document.kind.value,
            "side": document.side.value,
            "reason": translate(document.rejection_reason, user.language),
            "link": f"{portal_url}/kyc/documents",
        },
    )
    return True
