"""Languages and translations: English and Simplified Chinese from gettext catalogs.

Catalogs are ``.po`` files under each package's ``locales/`` folder, compiled in memory at
start-up with Babel, so no build step and no committed binaries are needed. The language of the
current request lives in a context variable that the web middleware sets.
"""

from core.i18n.catalogs import LANGUAGES, Translator, current_language, gettext, ngettext, use_language

__all__ = ["LANGUAGES", "Translator", "current_language", "gettext", "ngettext", "use_language"]
