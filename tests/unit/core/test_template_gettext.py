"""Translated text in templates is escaped: a message that quotes what someone typed stays text.
The remembering ``_`` the apps install answers exactly what Jinja's own newstyle gettext does."""

from __future__ import annotations

import pytest
from jinja2 import Environment

from core.i18n.catalogs import Translator, use_language
from core.web.template_gettext import escaping_gettext, install_translations


def _environment(autoescape: bool, remembering: bool = True) -> Environment:
    environment = Environment(extensions=["jinja2.ext.i18n"], autoescape=autoescape)  # noqa: S701 - both cases are the test
    if remembering:
        install_translations(environment, Translator())
    else:  # Jinja's own newstyle gettext over the escaping callables: what the apps used to run
        environment.install_gettext_callables(*escaping_gettext(Translator()), newstyle=True)  # type: ignore[attr-defined]
    return environment


@pytest.mark.parametrize("remembering", [True, False])
def test_a_message_quoting_markup_reaches_an_html_page_as_text(remembering: bool) -> None:
    html = _environment(autoescape=True, remembering=remembering)
    page = html.from_string("<p>{{ _(error) }}</p><p>{{ _('Hello %(name)s', name=who) }}</p>").render(
        error='"<script>alert(1)</script>" is not a number', who="<b>Eve</b>"
    )
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Hello &lt;b&gt;Eve&lt;/b&gt;" in page


@pytest.mark.parametrize("remembering", [True, False])
def test_plural_messages_are_escaped_too_and_plain_text_templates_are_left_alone(remembering: bool) -> None:
    html = _environment(autoescape=True, remembering=remembering)
    text = _environment(autoescape=False, remembering=remembering)
    plural = "{{ ngettext('%(num)d <item>', '%(num)d <items>', n) }}"
    assert html.from_string(plural).render(n=2) == "2 &lt;items&gt;"
    assert text.from_string("{{ _(error) }}").render(error="a < b & c") == "a < b & c"


TEMPLATE = (
    "{{ _('Sign in') }}|{{ _('Sign out') }}|{{ gettext('Sign in') }}|{{ _(said) }}|{{ _('100%% sure') }}"
    "|{{ _('With 1:100 leverage, a 1%% price move against you changes your margin by about:') }}"
    "|{{ _('Hello %(name)s', name=who) }}|{% trans %}Sign out{% endtrans %}"
)


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_remembered_translations_match_jinjas_own_in_each_language(language: str) -> None:
    remembering, plain = _environment(True), _environment(True, remembering=False)
    context = {"said": "<i>it's 5 < 6</i>", "who": "Zoë & <Co>"}
    with use_language(language):
        expected = plain.from_string(TEMPLATE).render(**context)
        first = remembering.from_string(TEMPLATE).render(**context)
        again = remembering.from_string(TEMPLATE).render(**context)  # from what it remembered
    assert first == expected
    assert again == expected
    assert "100% sure" in expected
    if language == "zh_Hans":
        assert expected.startswith("登录|退出登录|登录|")


def test_what_is_remembered_for_one_language_is_not_shown_in_another() -> None:
    html = _environment(True)
    page = html.from_string("{{ _('Sign out') }}")
    with use_language("zh_Hans"):
        assert page.render() == "退出登录"
    with use_language("en"):
        assert page.render() == "Sign out"
