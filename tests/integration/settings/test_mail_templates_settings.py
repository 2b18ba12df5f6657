"""Mail templates over HTTP: an override per language, checked in a sandbox before it is stored,
previewed in both languages, preferred by the real mail path, and reset to the file template."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db import Database
from core.mail.models import MailTemplateOverride, OutboxMail
from core.mail.outbox import queue_mail
from core.mail.templates import default_sources, render_mail
from core.settings import Settings
from tests.helpers import make_client, submit
from tests.integration.settings.conftest import StaffFactory, audit_events, count, page_text

pytestmark = pytest.mark.asyncio
EDIT = "/settings/mail-templates/reset_password/en"


def sources(**changes: str) -> dict[str, str]:
    default = default_sources("reset_password", "en")
    return {"subject": default.subject, "text": default.text, "html": default.html, **changes}


async def test_defaults_listed_and_previewed_in_both_languages(staff_as: StaffFactory) -> None:
    support = await staff_as("support@staff.test", ["support"])
    listing = await support.get("/settings/mail-templates")
    assert listing.status_code == 200
    assert 'href="/settings/mail-templates/kyc_decision/zh_Hans"' in listing.text
    page = page_text((await support.get("/settings/mail-templates/kyc_decision/en")).text)
    subject = (
        "{% if approved %}Your identity is verified{% else %}We could not verify your identity{% endif %}"
    )
    assert f'value="{subject}"' in page
    en = page.split('data-language="en"')[1].split("</article>")[0]
    zh = page.split('data-language="zh_Hans"')[1].split("</article>")[0]
    assert "We could not verify your identity" in en  # the sample is a rejection
    assert "The photo is blurred." in en
    assert "我们未能验证您的身份" in zh
    assert (await support.get("/settings/mail-templates/no_such_mail/en")).status_code == 404
    assert (await support.get("/settings/mail-templates/reset_password/fr")).status_code == 404


async def test_the_file_templates_survive_the_round_trip() -> None:
    """The default sources an editor starts from render exactly what the file templates render."""
    from core.mail.samples import sample_context
    from core.mail.templates import render_sources, template_names

    for name in template_names():
        for language in ("en", "zh_Hans"):
            start = default_sources(name, language)
            context = sample_context(name, start)
            assert render_sources(start, context) == render_mail(name, language, context), (name, language)


async def test_broken_templates_are_refused_with_their_line(staff_as: StaffFactory, db: Database) -> None:
    support = await staff_as("support@staff.test", ["support"])
    cases = [
        ({"text": "Hello,\n\n{% if minutes %}\nno end"}, "text, line 3: Unexpected end of template"),
        ({"html": "<p>{{ link }</p>"}, "html, line 1"),
        ({"text": "Hello,\n{{ nickname }}\n"}, "text, line 2: 'nickname' is undefined"),
        ({"subject": "{{ link.__class__.__mro__ }}"}, "subject, line 1"),
        ({"subject": "  "}, "subject: the subject is empty"),
    ]
    for change, message in cases:
        refused = await submit(support, EDIT, EDIT, sources(**change))
        assert refused.status_code == 400, change
        assert message in page_text(refused.text), (change, page_text(refused.text)[:3000])
        preview = await submit(support, EDIT, f"{EDIT}/preview", sources(**change))
        assert preview.status_code == 400, change
    assert await count(db, MailTemplateOverride) == 0
    assert await audit_events(db, "mail.template_overridden") == []
    unsafe = await submit(support, EDIT, EDIT, sources(subject="{{ link.__class__.__mro__ }}"))
    assert "unsafe" in page_text(unsafe.text)  # the sandbox refuses Python internals


async def test_override_is_used_by_the_real_mail_path_then_reset(
    staff_as: StaffFactory, db: Database, settings: Settings, portal_client: AsyncTestClient
) -> None:
    support = await staff_as("support@staff.test", ["support"])
    edited = sources(
        subject="Reset within {{ minutes }} minutes",
        text="Hi,\n\nUse {{ link }} within {{ minutes }} minutes.\n",
        html='{% extends "base.html" %}{% block body %}'
        '<p>Use <a href="{{ link }}">this link</a>.</p>{% endblock %}',
    )
    preview = await submit(support, EDIT, f"{EDIT}/preview", edited)
    assert preview.status_code == 200
    shown = page_text(preview.text)
    assert "Reset within 60 minutes" in shown.split('data-language="en"')[1]
    assert await count(db, MailTemplateOverride) == 0  # a preview stores nothing

    saved = await submit(support, EDIT, EDIT, edited)
    assert saved.status_code == 303
    (event,) = await audit_events(db, "mail.template_overridden")
    assert event.target_id == "reset_password:en"
    assert event.before is not None
    assert event.before["overridden"] is False
    assert event.before["subject"] == "Reset your password"
    assert event.after is not None
    assert event.after["subject"] == "Reset within {{ minutes }} minutes"
    page = page_text((await support.get(EDIT)).text)
    assert "support@staff.test" in page
    assert "Reset your password" in page.split('id="history"')[1]

    await make_client(db, settings, "forgetful@example.test")
    asked = await submit(
        portal_client, "/forgot-password", "/forgot-password", {"email": "forgetful@example.test"}
    )
    assert asked.status_code in (200, 303)
    async with db.session() as session:
        mail = await session.scalar(
            select(OutboxMail).where(OutboxMail.to_address == "forgetful@example.test")
        )
    assert mail is not None
    assert mail.subject == f"Reset within {settings.reset_token_minutes} minutes"
    assert "/reset-password/" in mail.text_body
    assert mail.text_body.startswith("Hi,")
    assert "this link</a>" in mail.html_body

    async with db.transaction() as session:  # the Chinese template is still the file's
        chinese = await queue_mail(
            session, "x@example.test", "reset_password", "zh_Hans", {"link": "http://x/", "minutes": 5}
        )
    assert chinese.subject == "重置您的密码"

    reset = await submit(support, EDIT, f"{EDIT}/reset", {})
    assert reset.status_code == 303
    assert await count(db, MailTemplateOverride) == 0
    (event,) = await audit_events(db, "mail.template_reset")
    assert event.before is not None
    assert event.before["subject"] == "Reset within {{ minutes }} minutes"
    async with db.transaction() as session:
        again = await queue_mail(
            session, "y@example.test", "reset_password", "en", {"link": "http://y/", "minutes": 5}
        )
    assert again.subject == "Reset your password"
