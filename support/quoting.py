"""Taking the quoted history out of a mailed reply, so only what the client wrote now is kept.

Mail programs quote the message they answer in different ways: ``>`` prefixes, an "On … wrote:"
line (``在 … 写道\uff1a`` in Chinese clients), Outlook's "-----Original Message-----" or a
``From:``/``Sent:`` block. Our own mails start with :data:`support.mailing.REPLY_MARKER`, so
whatever follows that line is ours. A signature after the standard ``-- `` delimiter goes too.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from support.mailing import REPLY_MARKER

_WROTE = re.compile(r"^(on\s.+|.*\s)wrote:\s*$|^在.+写道[:\uff1a]\s*$", re.IGNORECASE)
_CUT_LINES = (
    re.compile(r"^-{2,}\s*original message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^_{10,}\s*$"),
    re.compile(r"^-- $"),
)
_HEADER_BLOCK = re.compile(r"^(from|发件人)\s*[:\uff1a]", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^(sent|date|to|发送时间|收件人)\s*[:\uff1a]", re.IGNORECASE)


def strip_quoted(text: str) -> str:
    """What the client wrote above the quoted history, with quoted (``>``) lines removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if REPLY_MARKER in line or any(pattern.match(line) for pattern in _CUT_LINES):
            break
        if _WROTE.match(stripped):
            break
        nxt = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if stripped.lower().startswith("on ") and nxt.lower().endswith("wrote:"):
            break  # "On <date>, <name>" wrapped before "wrote:"
        if _HEADER_BLOCK.match(stripped) and _HEADER_NEXT.match(nxt):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "head"}:
            self._skip += 1
        elif tag in {"br", "p", "div", "tr", "li", "blockquote"}:
            self.parts.append("\n")
        if tag == "blockquote":
            self.parts.append(f"\n{_QUOTE_START}\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "head"} and self._skip:
            self._skip -= 1
        elif tag == "blockquote":
            self.parts.append(f"\n{_QUOTE_END}\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


_QUOTE_START, _QUOTE_END = "\x00quote-start\x00", "\x00quote-end\x00"


def text_of_html(html: str) -> str:
    """The readable text of an HTML mail, with ``<blockquote>`` (the quoted history) left out."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    text, depth, kept = "".join(parser.parts), 0, []
    for line in text.split("\n"):
        if line == _QUOTE_START:
            depth += 1
        elif line == _QUOTE_END:
            depth = max(0, depth - 1)
        elif depth == 0:
            kept.append(line)
    return "\n".join(kept)
