"""Staff's overrides of the mail templates, per template and language, with their history.

An override is checked before it is stored: all three parts must compile and render in the
sandbox with the template's sample context, otherwise nothing is written and the error names
the part and the line. Every save and every reset is an audit event with before and after.
"""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.audit.service import Actor, record_audit
from core.i18n.catalogs import LANGUAGES
from core.mail.models import MailTemplateOverride
from core.mail.samples import sample_context
from core.mail.templates import (
    MailTemplateError,
    RenderedMail,
    TemplateSources,
    default_sources,
    render_sources,
    template_names,
)

AUDIT_TARGET = "mail_template"
SOURCE_LIMIT = 65_536


def audit_id(name: str, language: str) -> str:
    return f"{name}:{language}"


def check_known(name: str, language: str) -> None:
    if name not in template_names() or language not in LANGUAGES:
        raise MailTemplateError("template", None, f"there is no mail template {name!r} in {language!r}")


async def load_override(session: AsyncSession, name: str, language: str) -> MailTemplateOverride | None:
    return await session.get(MailTemplateOverride, (name, language))


def sources_of(row: MailTemplateOverride) -> TemplateSources:
    return TemplateSources(subject=row.subject, text=row.text_body, html=row.html_body)


async def effective_sources(session: AsyncSession, name: str, language: str) -> tuple[TemplateSources, bool]:
    """What a mail of ``name`` in ``language`` is rendered from now, and whether it is an override."""
    row = await load_override(session, name, language)
    return (sources_of(row), True) if row else (default_sources(name, language), False)


def preview(name: str, sources: TemplateSources, company: dict[str, str] | None = None) -> RenderedMail:
    """Render with the sample context; :class:`MailTemplateError` when a part does not work."""
    if not sources.subject.strip():
        raise MailTemplateError("subject", None, "the subject is empty")
    return render_sources(sources, sample_context(name, sources, company))


def _audit_view(sources: TemplateSources, overridden: bool) -> dict[str, object]:
    return {"overridden": overridden, **asdict(sources)}


async def save_override(
    session: AsyncSession,
    name: str,
    language: str,
    sources: TemplateSources,
    actor: Actor,
    *,
    company: dict[str, str] | None = None,
) -> MailTemplateOverride:
    """Check, then store (or replace) the override; audited with before and after."""
    check_known(name, language)
    for part in ("subject", "text", "html"):
        if len(getattr(sources, part)) > SOURCE_LIMIT:
            raise MailTemplateError(part, None, f"at most {SOURCE_LIMIT} characters")
    preview(name, sources, company)
    before_sources, overridden = await effective_sources(session, name, language)
    row = await load_override(session, name, language)
    now = clock.utcnow()
    if row is None:
        row = MailTemplateOverride(
            name=name,
            language=language,
            subject=sources.subject,
            text_body=sources.text,
            html_body=sources.html,
            version=1,
            updated_by=actor.id,
            updated_at=now,
        )
        session.add(row)
    else:
        row.subject, row.text_body, row.html_body = sources.subject, sources.text, sources.html
        row.version, row.updated_by, row.updated_at = row.version + 1, actor.id, now
    await session.flush()
    await record_audit(
        session,
        actor,
        "mail.template_overridden",
        target_type=AUDIT_TARGET,
        target_id=audit_id(name, language),
        before=_audit_view(before_sources, overridden),
        after=_audit_view(sources, True),
    )
    return row


async def reset_override(session: AsyncSession, name: str, language: str, actor: Actor) -> bool:
    """Delete the override, so the file template applies again; audited. False if there was none."""
    check_known(name, language)
    row = await load_override(session, name, language)
    if row is None:
        return False
    before = _audit_view(sources_of(row), True)
    await session.delete(row)
    await session.flush()
    await record_audit(
        session,
        actor,
        "mail.template_reset",
        target_type=AUDIT_TARGET,
        target_id=audit_id(name, language),
        before=before,
        after=_audit_view(default_sources(name, language), False),
    )
    return True
