"""A small, safe Markdown renderer for help articles.

Authors are staff, but an article is shown to every client, so nothing an author types becomes
markup by itself: the text is escaped first and only this subset is turned into HTML:

- ``#``, ``##``, ``###`` headings (drawn one level down, ``h2`` to ``h4``: the page's ``h1`` is the
  article's title);
- paragraphs, separated by a blank line;
- ``-``/``*`` bullet lists and ``1.`` numbered lists;
- ``> `` quotes (one paragraph);
- fenced code blocks (```` ``` ````) and ```code``` spans;
- ``**bold**``, ``*italic*``;
- ``[text](target)`` links, where the target is ``https://``, ``http://``, ``mailto:``, a path on
  this site (``/help/...``) or an anchor; any other target (``javascript:``, ``data:``) is left as
  plain text.

No raw HTML, no images, no inline styles or scripts: the portal's strict CSP would refuse them
anyway, and the help centre doesn't need them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+(.*)$")
_QUOTE = re.compile(r"^>\s?(.*)$")
_FENCE = re.compile(r"^\s*```")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?=\S)([^*]+?)(?<=\S)\*(?![*\w])")
_PLACEHOLDER = "\x00{}:{}\x00"
_SAFE_SCHEMES = ("https://", "http://", "mailto:")


def safe_target(target: str) -> bool:
    """Whether a link target may become an ``href``: web and mail addresses, this site's own
    paths (never ``//host``, which leaves the site) and anchors."""
    lowered = target.strip().lower()
    if lowered.startswith(_SAFE_SCHEMES):
        return True
    return (lowered.startswith("/") and not lowered.startswith("//")) or lowered.startswith("#")


def _protect(
    text: str, kind: str, pattern: re.Pattern[str], render: Callable[[re.Match[str]], str]
) -> tuple[str, list[str]]:
    """Replace each match with a placeholder so later rules can't reach inside it."""
    kept: list[str] = []

    def hold(match: re.Match[str]) -> str:
        kept.append(render(match))
        return _PLACEHOLDER.format(kind, len(kept) - 1)

    return pattern.sub(hold, text), kept


def _restore(text: str, kind: str, kept: list[str]) -> str:
    for index, fragment in enumerate(kept):
        text = text.replace(_PLACEHOLDER.format(kind, index), fragment)
    return text


def _emphasis(escaped: str) -> str:
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    return _ITALIC.sub(r"<em>\1</em>", escaped)


def _link(match: re.Match[str]) -> str:
    label, target = match.group(1), match.group(2)
    if not safe_target(target):
        return html.escape(match.group(0))
    external = target.lower().startswith(("https://", "http://"))
    rel = ' rel="noopener noreferrer nofollow"' if external else ""
    return f'<a href="{html.escape(target, quote=True)}"{rel}>{_emphasis(html.escape(label))}</a>'


def render_inline(text: str) -> str:
    """One line or paragraph of Markdown as escaped HTML with the inline rules applied."""
    text = text.replace("\x00", "")
    text, codes = _protect(text, "c", _CODE_SPAN, lambda m: f"<code>{html.escape(m.group(1))}</code>")
    text, links = _protect(text, "l", _LINK, _link)
    rendered = _emphasis(html.escape(text, quote=True))
    return _restore(_restore(rendered, "l", links), "c", codes)


class _Blocks:
    """Collects the HTML blocks while the lines are read."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.paragraph: list[str] = []
        self.items: list[str] = []
        self.list_tag = ""

    def flush(self) -> None:
        if self.paragraph:
            self.out.append(f"<p>{render_inline(chr(10).join(self.paragraph))}</p>")
            self.paragraph = []
        if self.items:
            body = "".join(f"<li>{render_inline(item)}</li>" for item in self.items)
            self.out.append(f"<{self.list_tag}>{body}</{self.list_tag}>")
            self.items, self.list_tag = [], ""

    def item(self, tag: str, text: str) -> None:
        if self.paragraph or (self.items and self.list_tag != tag):
            self.flush()
        self.list_tag = tag
        self.items.append(text)


def render_markdown(source: str) -> str:
    """An article body as HTML that is safe to put in a page as it is."""
    blocks = _Blocks()
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if _FENCE.match(line):
            blocks.flush()
            code: list[str] = []
            while index < len(lines) and not _FENCE.match(lines[index]):
                code.append(lines[index])
                index += 1
            index += 1  # the closing fence (or the end of the text)
            blocks.out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
        elif not line.strip():
            blocks.flush()
        elif heading := _HEADING.match(line):
            blocks.flush()
            level = len(heading.group(1)) + 1
            blocks.out.append(f"<h{level}>{render_inline(heading.group(2))}</h{level}>")
        elif bullet := _BULLET.match(line):
            blocks.item("ul", bullet.group(1))
        elif numbered := _NUMBERED.match(line):
            blocks.item("ol", numbered.group(1))
        elif quote := _QUOTE.match(line):
            blocks.flush()
            blocks.out.append(f"<blockquote><p>{render_inline(quote.group(1))}</p></blockquote>")
        elif blocks.items and line.startswith((" ", "\t")):
            blocks.items[-1] += " " + line.strip()
        else:
            if blocks.items:
                blocks.flush()
            blocks.paragraph.append(line.strip())
    blocks.flush()
    return "\n".join(blocks.out)


_MARKERS = re.compile(r"[`*#>]+|^\s*[-*]\s+|^\s*\d{1,3}[.)]\s+", re.MULTILINE)


def plain_text(source: str) -> str:
    """The words of a body without Markdown markers (link targets dropped): for excerpts and
    search."""
    text = _LINK.sub(lambda m: m.group(1), source)
    return " ".join(_MARKERS.sub(" ", text).split())
