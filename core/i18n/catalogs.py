"""Load gettext catalogs and translate in the language of the current request or job."""

from __future__ import annotations

import gettext as stdlib_gettext
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
LANGUAGES: dict[str, str] = {"en": "English", "zh_Hans": "简体中文"}
"""Supported languages: code → the language's own name, as the switcher shows it."""

CORE_LOCALES = Path(__file__).parent / "locales"

_current: ContextVar[str] = ContextVar("brokerdesk_language", default=DEFAULT_LANGUAGE)


def normalise_language(value: str | None) -> str | None:
    """Map ``zh``, ``zh-CN``, ``zh_hans`` … to a supported code, or ``None``."""
    if not value:
        return None
    key = value.strip().replace("-", "_").lower()
    if key.startswith("zh"):
        return "zh_Hans"
    if key.startswith("en"):
        return "en"
    return None


def language_from_accept_header(header: str | None) -> str | None:
    """The first supported language in an ``Accept-Language`` header, by quality."""
    if not header:
        return None
    ranked: list[tuple[float, str]] = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag))
    for _quality, tag in sorted(ranked, key=lambda item: -item[0]):
        language = normalise_language(tag)
        if language:
            return language
    return None


def _load_po(path: Path) -> stdlib_gettext.GNUTranslations:
    stat = path.stat()
    return stdlib_gettext.GNUTranslations(io.BytesIO(_compiled(str(path), stat.st_mtime_ns, stat.st_size)))


@lru_cache(maxsize=64)
def _compiled(path: str, _mtime_ns: int, _size: int) -> bytes:
    """A ``.po`` file compiled to ``.mo`` bytes, once per version of the file.

    Parsing a catalog with Babel was a tenth of a second of every app built (the test suite
    builds hundreds); each :class:`Translator` still gets catalogs of its own, since it chains
    them by fallback.
    """
    with open(path, "rb") as handle:
        catalog = read_po(handle)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


class Translator:
    """Translations for every supported language, merged from several packages' catalogs."""

    def __init__(self, locale_dirs: Iterable[Path] = (CORE_LOCALES,)) -> None:
        self._by_language: dict[str, stdlib_gettext.NullTranslations] = {}
        dirs = list(locale_dirs)
        for language in LANGUAGES:
            merged: stdlib_gettext.NullTranslations = stdlib_gettext.NullTranslations()
            for directory in dirs:
                po_file = directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"
                if po_file.is_file():
                    catalog = _load_po(po_file)
                    catalog.add_fallback(merged)
                    merged = catalog
            self._by_language[language] = merged

    def for_language(self, language: str) -> stdlib_gettext.NullTranslations:
        return self._by_language.get(language) or self._by_language[DEFAULT_LANGUAGE]

    def gettext(self, message: str) -> str:
        return self.for_language(_current.get()).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.for_language(_current.get()).ngettext(singular, plural, n)


@lru_cache(maxsize=1)
def _core_translator() -> Translator:
    return Translator()


def gettext(message: str) -> str:
    """Translate ``message`` with the core catalog, for code outside templates (mail, errors)."""
    return _core_translator().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _core_translator().ngettext(singular, plural, n)


def current_language() -> str:
    return _current.get()


def set_language(language: str) -> None:
    _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


@contextmanager
def use_language(language: str) -> Iterator[None]:
    """Translate in ``language`` inside the block (a mail to a Chinese-speaking client, say)."""
    token = _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)
