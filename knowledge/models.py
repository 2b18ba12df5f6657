"""Help articles, their translations and their categories.

An article is one thing with a translation per language: English is required, Chinese optional
(readers of a missing language get English). ``search_text`` is the lowercased title and body of
one translation, which search matches substrings in (Chinese has no spaces between words).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Category(Base):
    """A heading of the help centre, named in each language."""

    __tablename__ = "knowledge_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh_hans: Mapped[str] = mapped_column(String(120), default="")
    position: Mapped[int] = mapped_column(default=0)


class Article(Base):
    """One help article; its words live in :class:`ArticleTranslation`."""

    __tablename__ = "knowledge_articles"
    __table_args__ = (Index("ix_knowledge_articles_status_category", "status", "category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("knowledge_categories.id"))
    status: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None] = mapped_column(default=None)


class ArticleTranslation(Base):
    """An article's title and Markdown body in one language."""

    __tablename__ = "knowledge_article_translations"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_articles.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text)
