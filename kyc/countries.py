"""ISO 3166-1 alpha-2 countries with their names in English and Chinese, from Babel's CLDR data."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale

# CLDR territories that are not ISO 3166-1 countries (regions, reservations, unknown).
_NOT_COUNTRIES = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"}
)


@lru_cache(maxsize=4)
def countries(language: str = "en") -> dict[str, str]:
    """Code → name, sorted by name in ``language`` (``en`` or ``zh_Hans``)."""
    names: dict[str, str] = {
        str(code): str(name)
        for code, name in Locale.parse("zh_Hans" if language.startswith("zh") else "en").territories.items()
    }
    codes = [code for code in names if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES]
    return dict(sorted(((code, names[code]) for code in codes), key=lambda item: item[1]))


def is_country(code: str) -> bool:
    return code in countries("en")
