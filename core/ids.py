"""Reading the ids and whole numbers that people type or integrations send.

``str.isdigit`` alone is not enough: it accepts "²" and other Unicode digits that ``int()`` then
refuses (a 500), and any length, which the database refuses past 64 bits (another 500). An id is
ASCII digits that a BIGINT column can hold.
"""

from __future__ import annotations

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
MAX_DIGITS = 18
"""Every number of up to 18 digits fits a BIGINT."""


def is_id_text(text: str) -> bool:
    """``text`` is 1 to 18 ASCII digits."""
    return 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()


def parse_id(text: str) -> int | None:
    """The number ``text`` spells when :func:`is_id_text`, else ``None``."""
    return int(text) if is_id_text(text) else None
