"""Mail templates: ``templates/<language>/<name>.txt`` and ``.html``, in English and Chinese.

The text template sets the subject with ``{% set subject = … %}``; the HTML template extends
``base.html``. A language without its own template falls back to English.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

from core.i18n.catalogs import DEFAULT_LANGUAGE, LANGUAGES

TEMPLATE_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_mail(name: str, language: str, context: dict[str, Any]) -> RenderedMail:
    """Render template ``name`` in ``language`` (English when that language lacks it)."""
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
