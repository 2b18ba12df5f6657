"""What staff write to clients in two languages: a heading and a text in English (required) and in
Simplified Chinese (optional, both or neither), each within its limit. Announcements call the
heading a title, campaigns a subject."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from comms.errors import CommsError


@dataclass(frozen=True)
class BilingualText:
    heading_en: str
    body_en: str
    heading_zh_hans: str
    body_zh_hans: str


def parse_bilingual(
    form: Mapping[str, str],
    heading: str,
    heading_limit: int,
    body_limit: int,
    error: Callable[[str, str], CommsError],
) -> BilingualText:
    """Read ``<heading>_en``, ``body_en``, ``<heading>_zh_hans`` and ``body_zh_hans``; a problem
    raises ``error(field, message)``. Headings are one line; texts keep their line breaks."""
    heading_en = " ".join((form.get(f"{heading}_en") or "").split())
    body_en = (form.get("body_en") or "").strip()
    heading_zh = " ".join((form.get(f"{heading}_zh_hans") or "").split())
    body_zh = (form.get("body_zh_hans") or "").strip()
    if not heading_en:
        raise error(f"{heading}_en", f"English {heading}: required.")
    if not body_en:
        raise error("body_en", "English text: required.")
    if bool(heading_zh) != bool(body_zh):
        raise error(f"{heading}_zh_hans", f"Chinese {heading} and text: give both or neither.")
    for name, value, limit in (
        (f"{heading}_en", heading_en, heading_limit),
        (f"{heading}_zh_hans", heading_zh, heading_limit),
        ("body_en", body_en, body_limit),
        ("body_zh_hans", body_zh, body_limit),
    ):
        if len(value) > limit:
            raise error(name, f"{name}: at most {limit} characters.")
    return BilingualText(heading_en, body_en, heading_zh, body_zh)
