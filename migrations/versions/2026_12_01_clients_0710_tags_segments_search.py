"""crm: tag catalogue, client tags, saved segments, the client search's indexes, clients.assign.

Revision ID: clients_0710
Revises: ibspeed_0700
Create Date: 2026-12-01 12:00:00

The search matches names, emails and phones with ``ILIKE '%term%'``; on PostgreSQL trigram (GIN,
``pg_trgm``) indexes serve that, on SQLite the same indexes are plain ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.grants import grant, revoke

revision: str = "clients_0710"
down_revision: str | Sequence[str] | None = "ibspeed_0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_PERMISSIONS = {"admin": ["clients.assign"], "support": ["clients.assign"]}

TRIGRAM = (
    ("ix_crm_users_email_trgm", "users", "email"),
    ("ix_crm_users_display_name_trgm", "users", "display_name"),
    ("ix_crm_profile_first_name_trgm", "kyc_profile_version", "first_name"),
    ("ix_crm_profile_last_name_trgm", "kyc_profile_version", "last_name"),
    ("ix_crm_profile_phone_trgm", "kyc_profile_version", "phone"),
)
PLAIN = (
    ("ix_crm_users_kind_created", "users", ["kind", "created_at", "id"]),
    ("ix_crm_profile_country", "kyc_profile_version", ["country_of_residence", "client_id", "version"]),
    ("ix_crm_trading_account_login", "mt_trading_account", ["login"]),
)


def _id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "crm_tag",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("colour", sa.String(length=7), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_tag")),
        sa.UniqueConstraint("name", name=op.f("uq_crm_tag_name")),
    )
    op.create_table(
        "crm_client_tag",
        sa.Column("client_id", _id(), nullable=False),
        sa.Column("tag_id", _id(), nullable=False),
        sa.Column("tagged_by", _id(), nullable=True),
        sa.Column("tagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["users.id"], name=op.f("fk_crm_client_tag_client_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["crm_tag.id"], name=op.f("fk_crm_client_tag_tag_id_crm_tag"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("client_id", "tag_id", name=op.f("pk_crm_client_tag")),
    )
    op.create_index(op.f("ix_crm_client_tag_tag_id"), "crm_client_tag", ["tag_id"])
    op.create_table(
        "crm_segment",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("owner_id", _id(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.String(length=1000), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_crm_segment_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_segment")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_crm_segment_owner_id_name")),
    )
    op.create_index(op.f("ix_crm_segment_owner_id"), "crm_segment", ["owner_id"])
    for name, table, column in TRIGRAM:
        op.create_index(
            name, table, [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}
        )
    for name, table, columns in PLAIN:
        op.create_index(name, table, columns)
    grant(NEW_PERMISSIONS)


def downgrade() -> None:
    revoke(["clients.assign"])
    for name, table, _columns in PLAIN:
        op.drop_index(name, table_name=table)
    for name, table, _column in TRIGRAM:
        op.drop_index(name, table_name=table)
    op.drop_index(op.f("ix_crm_segment_owner_id"), table_name="crm_segment")
    op.drop_table("crm_segment")
    op.drop_index(op.f("ix_crm_client_tag_tag_id"), table_name="crm_client_tag")
    op.drop_table("crm_client_tag")
    op.drop_table("crm_tag")
