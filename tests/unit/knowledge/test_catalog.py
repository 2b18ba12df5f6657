"""Every text of the help pages and the article editor has its Simplified Chinese translation in
the knowledge catalog, so a Chinese reader never meets an English label there."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from knowledge import KNOWLEDGE_LOCALES

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = [
    *sorted((ROOT / "portal" / "templates" / "help").glob("*.html")),
    *sorted((ROOT / "backoffice" / "templates" / "knowledge").glob("*.html")),
]
FLASHES = (
    "The category has been saved.",
    "The article is saved as a draft; publish it when it is ready.",
    "The article has been saved.",
    "The article is published.",
    "The article is back to draft.",
    "Help",
    "Help articles",
    "draft",
    "published",
)
"""Texts translated where they are shown (flash messages, navigation labels) rather than in
these templates."""


def _msgids() -> set[str]:
    found: set[str] = set(FLASHES)
    for path in TEMPLATES:
        with path.open("rb") as handle:
            for _line, _function, message, _comments in babel_extract(handle, ["_", "ngettext"], [], {}):
                text = message[0] if isinstance(message, tuple) else message
                if text:  # None: a dynamic text, such as a status (``draft``, ``published``) below
                    found.add(text)
    return found


def test_every_help_text_is_translated() -> None:
    with (KNOWLEDGE_LOCALES / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog
        if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string)
    }
    assert len(TEMPLATES) >= 9
    missing = sorted(_msgids() - translated)
    assert not missing, missing
