"""Finding published articles for a few words a client typed, on SQLite and PostgreSQL alike.

Chinese is written without spaces, so words can't be split on whitespace: a run of Chinese
characters is matched as overlapping two-character pieces (``如何存款`` → ``如何``, ``何存``,
``存款``), Latin words of two letters or more as themselves, and every piece is a substring match
(``LIKE``) in the translations' lowercased ``search_text``. An article is a hit when it holds at
least half of the pieces (one is enough for the ticket form's suggestions); hits rank by how
many pieces they hold, a piece in the title counting more. The help centre is small (hundreds
of articles), so the ranking happens in Python over the rows the ``LIKE`` prefilter returns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import Article, ArticleStatus, ArticleTranslation

QUERY_LIMIT = 200
"""Characters of a query that are read; the rest is ignored."""
TERM_LIMIT = 12
_WORD = re.compile(r"\w+")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
STOPWORDS = frozenset(
    [
        "a",
        "am",
        "an",
        "and",
        "are",
        "be",
        "been",
        "but",
        "can",
        "did",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "please",
        "so",
        "that",
        "the",
        "there",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)
"""English words too common to say what an article is about."""
TITLE_WEIGHT = 3


def terms(query: str) -> list[str]:
    """The pieces a query is matched by, lowercased, in order, without repeats."""
    found: list[str] = []
    for word in _WORD.findall(_cut(query).lower()):
        cursor = 0
        for run in _CJK_RUN.finditer(word):
            found.extend(_latin(word[cursor : run.start()]))
            text = run.group(0)
            found.extend([text] if len(text) <= 2 else [text[i : i + 2] for i in range(len(text) - 1)])
            cursor = run.end()
        found.extend(_latin(word[cursor:]))
    unique = list(dict.fromkeys(found))
    return unique[:TERM_LIMIT]


def _cut(query: str) -> str:
    """The first :data:`QUERY_LIMIT` characters, without the word the limit cuts in two."""
    if len(query) <= QUERY_LIMIT:
        return query
    head, space, _rest = query[: QUERY_LIMIT + 1].rpartition(" ")
    return head if space else query[:QUERY_LIMIT]


def _latin(text: str) -> list[str]:
    text = text.strip("_")
    return [text] if len(text) >= 2 and text not in STOPWORDS else []


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class Match:
    """A published article that matched, with how well."""

    article_id: int
    matched: int
    score: int


async def search(session: AsyncSession, query: str, limit: int = 10, *, loose: bool = False) -> list[Match]:
    """Published articles matching ``query`` in any language, best first; none for no terms.
    ``loose``: one piece is enough (a ticket's text says more than the article it needs)."""
    pieces = terms(query)
    if not pieces:
        return []
    rows = (
        await session.execute(
            select(ArticleTranslation.article_id, ArticleTranslation.title, ArticleTranslation.search_text)
            .join(Article, Article.id == ArticleTranslation.article_id)
            .where(
                Article.status == ArticleStatus.PUBLISHED.value,
                or_(*(ArticleTranslation.search_text.like(_like(p), escape="\\") for p in pieces)),
            )
        )
    ).all()
    best: dict[int, Match] = {}
    for article_id, title, text in rows:
        match = _score(article_id, title.lower(), text, pieces)
        current = best.get(article_id)
        if current is None or (match.matched, match.score) > (current.matched, current.score):
            best[article_id] = match
    enough = 1 if loose else max(1, math.ceil(len(pieces) / 2))
    ranked = sorted(
        (m for m in best.values() if m.matched >= enough),
        key=lambda m: (-m.matched, -m.score, m.article_id),
    )
    return ranked[:limit]


def _score(article_id: int, title: str, text: str, pieces: Sequence[str]) -> Match:
    matched = score = 0
    for piece in pieces:
        if piece in title:
            matched, score = matched + 1, score + TITLE_WEIGHT
        elif piece in text:
            matched, score = matched + 1, score + 1
    return Match(article_id, matched, score)
