"""Translated text in templates is escaped: a message that quotes what someone typed stays text."""

from __future__ import annotations

from jinja2 import Environment

from core.i18n.catalogs import Translator
from core.web.app_factory import escaping_gettext


def _environment(autoescape: bool) -> Environment:
    environment = Environment(extensions=["jinja2.ext.i18n"], autoescape=autoescape)  # noqa: S701 - both cases are the test
    environment.install_gettext_callables(*escaping_gettext(Translator()), newstyle=True)  # type: ignore[attr-defined]
    return environment


def test_a_message_quoting_markup_reaches_an_html_page_as_text() -> None:
    html = _environment(autoescape=True)
    page = html.from_string("<p>{{ _(error) }}</p><p>{{ _('Hello %(name)s', name=who) }}</p>").render(
        error='"<script>alert(1)</script>" is not a number', who="<b>Eve</b>"
    )
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Hello &lt;b&gt;Eve&lt;/b&gt;" in page


def test_plural_messages_are_escaped_too_and_plain_text_templates_are_left_alone() -> None:
    html = _environment(autoescape=True)
    text = _environment(autoescape=False)
    plural = "{{ ngettext('%(num)d <item>', '%(num)d <items>', n) }}"
    assert html.from_string(plural).render(n=2) == "2 &lt;items&gt;"
    assert text.from_string("{{ _(error) }}").render(error="a < b & c") == "a < b & c"
