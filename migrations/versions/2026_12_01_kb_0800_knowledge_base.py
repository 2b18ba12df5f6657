"""knowledge: help-centre categories, articles and their translations; knowledge.manage granted to
the seeded roles admin and support.

Revision ID: kb_0800
Revises: campaigns_0800
Create Date: 2026-12-01 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.grants import grant, revoke

revision: str = "kb_0800"
down_revision: str | Sequence[str] | None = "campaigns_0800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRANTS: dict[str, tuple[str, ...]] = {"admin": ("knowledge.manage",), "support": ("knowledge.manage",)}


def _id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "knowledge_categories",
        sa.Column("id", _id(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("name_zh_hans", sa.String(length=120), nullable=False),
        sa.Column("position", _id(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_categories")),
        sa.UniqueConstraint("slug", name=op.f("uq_knowledge_categories_slug")),
    )
    op.create_table(
        "knowledge_articles",
        sa.Column("id", _id(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("category_id", _id(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("position", _id(), nullable=False),
        sa.Column("created_by", _id(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["knowledge_categories.id"],
            name=op.f("fk_knowledge_articles_category_id_knowledge_categories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_articles")),
        sa.UniqueConstraint("slug", name=op.f("uq_knowledge_articles_slug")),
    )
    op.create_index(
        "ix_knowledge_articles_status_category", "knowledge_articles", ["status", "category_id"], unique=False
    )
    op.create_table(
        "knowledge_article_translations",
        sa.Column("article_id", _id(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_article_translations_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "language", name=op.f("pk_knowledge_article_translations")),
    )
    grant(GRANTS)


def downgrade() -> None:
    revoke({permission for permissions in GRANTS.values() for permission in permissions})
    op.drop_table("knowledge_article_translations")
    op.drop_index("ix_knowledge_articles_status_category", table_name="knowledge_articles")
    op.drop_table("knowledge_articles")
    op.drop_table("knowledge_categories")
