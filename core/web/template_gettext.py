"""Translations in templates: escaped, and remembered per language once looked up.

Jinja's newstyle gettext marks whatever the callable returns as safe markup in an autoescaped
template, so ``{{ _(error) }}`` with a message that quotes what someone typed would reach the
page as HTML. Our catalogs hold no markup, so :func:`escaping_gettext` escapes every translation,
which closes that door for every template at once.

A page calls ``_()`` dozens of times (the back office's client list: hundreds), and each call
walked Jinja's alias, the catalog chain of every package, the escaping and a ``%`` format, which
was a sixth of that page's time. :func:`install_translations` keeps the finished markup of a
message without variables per language; what it answers is exactly what Jinja's own newstyle
gettext answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import Environment, pass_context, pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape

from core.i18n.catalogs import Translator, current_language

REMEMBERED_MESSAGES = 20_000
"""Past this many (language, message) pairs nothing more is remembered: a template that
translates text it was handed (an error quoting input) must not grow the memory without end."""


def escaping_gettext(translator: Translator) -> tuple[Callable[..., str], Callable[..., str]]:
    """``gettext`` and ``ngettext`` for templates that escape the text they return."""

    @pass_eval_context
    def gettext(eval_context: EvalContext, message: str) -> str:
        text = translator.gettext(message)
        return escape(text) if eval_context.autoescape else text

    @pass_eval_context
    def ngettext(eval_context: EvalContext, singular: str, plural: str, n: int) -> str:
        text = translator.ngettext(singular, plural, n)
        return escape(text) if eval_context.autoescape else text

    return gettext, ngettext


def remembering_gettext(translator: Translator) -> Callable[..., str]:
    """Newstyle ``gettext`` (``_``) for templates, answering as Jinja's would: the escaped
    translation, always used as a ``%`` format (so ``%%`` is a percent sign), its variables
    escaped into it."""
    remembered: dict[tuple[str, str], Markup] = {}

    @pass_context
    def gettext(context: Any, message: str, **variables: Any) -> str:
        if not context.eval_ctx.autoescape:
            return translator.gettext(message) % variables
        if variables:
            return escape(translator.gettext(message)) % variables
        key = (current_language(), message)
        found = remembered.get(key)
        if found is None:
            found = escape(translator.gettext(message)) % {}
            if len(remembered) < REMEMBERED_MESSAGES:
                remembered[key] = found
        return found

    return gettext


def install_translations(environment: Environment, translator: Translator) -> None:
    """The i18n extension's callables on ``environment``, ``_`` and ``gettext`` remembering."""
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        *escaping_gettext(translator), newstyle=True
    )
    gettext = remembering_gettext(translator)
    environment.globals.update(gettext=gettext, _=gettext)
