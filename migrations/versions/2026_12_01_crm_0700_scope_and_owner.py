"""crm: each staff member's data scope and each client's owner (sales assignment).

Revision ID: crm_0700
Revises: ib_engine_0600
Create Date: 2026-12-01 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_0700"
down_revision: str | Sequence[str] | None = "ib_engine_0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "crm_staff_scope",
        sa.Column("user_id", _id(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('all', 'team', 'own')", name=op.f("ck_crm_staff_scope_kind_known")),
        sa.CheckConstraint(
            "kind <> 'team' OR team <> ''", name=op.f("ck_crm_staff_scope_team_scope_names_team")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_crm_staff_scope_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_crm_staff_scope")),
    )
    op.create_index(op.f("ix_crm_staff_scope_team"), "crm_staff_scope", ["team"])
    op.create_table(
        "crm_client_owner",
        sa.Column("client_id", _id(), nullable=False),
        sa.Column("owner_id", _id(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["users.id"], name=op.f("fk_crm_client_owner_client_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_crm_client_owner_owner_id_users")),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_crm_client_owner")),
    )
    op.create_index(op.f("ix_crm_client_owner_owner_id"), "crm_client_owner", ["owner_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_crm_client_owner_owner_id"), table_name="crm_client_owner")
    op.drop_table("crm_client_owner")
    op.drop_index(op.f("ix_crm_staff_scope_team"), table_name="crm_staff_scope")
    op.drop_table("crm_staff_scope")
