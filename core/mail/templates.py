"""Mail templates: ``templates/<language>/<name>.txt`` and ``.html``, in English and Chinese.

The text template sets the subject with ``{% set subject = … %}``; the HTML template extends
``base.html``. A language without its own template falls back to English.

Staff may override a template per language (:mod:`core.mail.overrides`): three Jinja sources,
subject, text and HTML, rendered in a sandboxed environment with ``StrictUndefined``, so an
override can neither reach Python internals nor silently print nothing for a misspelt name.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from core.errors import CoreError
from core.i18n.catalogs import DEFAULT_LANGUAGE, LANGUAGES

TEMPLATE_DIR = Path(__file__).parent / "templates"
PARTS = ("subject", "text", "html")
SUBJECT_STATEMENT = re.compile(r"\{%-?\s*set\s+subject\s*=\s*(.+?)\s*-?%\}")
SUBJECT_LINE = re.compile(r"^[^\n]*\{%-?\s*set\s+subject\s*=[^\n]*\n?", re.MULTILINE)
QUOTED_LITERAL = re.compile(r"""\{\{ "([^"{}%]*)" \}\}""")


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class TemplateSources:
    """The Jinja source of one mail's three parts."""

    subject: str
    text: str
    html: str


class MailTemplateError(CoreError):
    """Raised when a mail template does not compile or render; names the part and the line."""

    def __init__(self, part: str, line: int | None, message: str) -> None:
        where = f"{part}, line {line}" if line else part
        super().__init__(f"{where}: {message}")
        self.part = part
        self.line = line
        self.detail = message


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=2)
def _sandbox(html: bool) -> SandboxedEnvironment:
    """For staff-written sources; HTML escapes every value, text and subject escape nothing. The
    loader lets an HTML override extend ``base.html`` like the file templates do."""
    return SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=html,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def template_names() -> list[str]:
    """Every mail template there is, by name (the English files are complete)."""
    return sorted(path.stem for path in (TEMPLATE_DIR / DEFAULT_LANGUAGE).glob("*.txt"))


def _file_language(name: str, language: str) -> str:
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    if (TEMPLATE_DIR / language / f"{name}.txt").is_file():
        return language
    return DEFAULT_LANGUAGE


def default_sources(name: str, language: str) -> TemplateSources:
    """The file template as the three sources an override holds: the ``set subject`` statement
    becomes the subject source, the rest of the text file the text source."""
    folder = TEMPLATE_DIR / _file_language(name, language)
    text_file, html_file = folder / f"{name}.txt", folder / f"{name}.html"
    if not text_file.is_file() or not html_file.is_file():
        raise TemplateNotFound(name)
    text = text_file.read_text(encoding="utf-8")
    subject_lines = "".join(SUBJECT_LINE.findall(text))
    subject = SUBJECT_STATEMENT.sub(lambda m: "{{ " + m.group(1) + " }}", subject_lines).strip()
    subject = QUOTED_LITERAL.sub(lambda m: m.group(1), subject)
    return TemplateSources(
        subject=subject or "BrokerDesk",
        text=SUBJECT_LINE.sub("", text),
        html=html_file.read_text(encoding="utf-8"),
    )


def _error_line(exc: BaseException) -> int | None:
    """The template line an error happened on: Jinja rewrites tracebacks to ``<template>`` frames."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == "<template>":
            line = lineno
    return line


def render_sources(sources: TemplateSources, context: dict[str, Any]) -> RenderedMail:
    """Render staff-written sources in the sandbox; :class:`MailTemplateError` names the part and
    line of the first problem."""
    rendered: dict[str, str] = {}
    for part in PARTS:
        environment = _sandbox(part == "html")
        try:
            template = environment.from_string(getattr(sources, part))
            rendered[part] = template.render(context)
        except TemplateError as exc:
            raise MailTemplateError(part, _error_line(exc), exc.message or type(exc).__name__) from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            raise MailTemplateError(part, _error_line(exc), str(exc) or type(exc).__name__) from None
    subject = " ".join(rendered["subject"].split())[:300] or "BrokerDesk"
    return RenderedMail(subject=subject, text=rendered["text"].strip() + "\n", html=rendered["html"])


def render_mail(
    name: str, language: str, context: dict[str, Any], override: TemplateSources | None = None
) -> RenderedMail:
    """Render template ``name`` in ``language`` (English when that language lacks it); staff's
    ``override`` for that language, when given, is preferred over the file."""
    if override is not None:
        return render_sources(override, context)
    env = _environment()
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    try:
        text_template = env.get_template(f"{language}/{name}.txt")
        html_template = env.get_template(f"{language}/{name}.html")
    except TemplateNotFound:
        text_template = env.get_template(f"{DEFAULT_LANGUAGE}/{name}.txt")
        html_template = env.get_template(f"{DEFAULT_LANGUAGE}/{name}.html")
    module = text_template.make_module(context)
    subject = " ".join(str(getattr(module, "subject", "BrokerDesk")).split())
    return RenderedMail(subject=subject, text=str(module).strip() + "\n", html=html_template.render(context))


def render_strings(subject: str, text: str, html: str, context: dict[str, Any]) -> RenderedMail:
    """:func:`render_sources` on three strings, for the domain packages that may not import this
    module (it brings the template engine) and get this function passed in (``comms`` campaigns)."""
    return render_sources(TemplateSources(subject=subject, text=text, html=html), context)
