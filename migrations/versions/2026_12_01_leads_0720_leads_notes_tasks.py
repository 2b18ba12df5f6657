"""crm: leads, and notes and tasks on clients and leads; staff roles admin and support get leads.manage.

Revision ID: leads_0720
Revises: clients_0710
Create Date: 2026-12-01 11:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.grants import grant, revoke

revision: str = "leads_0720"
down_revision: str | Sequence[str] | None = "clients_0710"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crm_leads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("registration_stage", sa.String(length=24), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "source IN ('manual', 'csv', 'registration')", name=op.f("ck_crm_leads_source_known")
        ),
        sa.CheckConstraint(
            "status <> 'converted' OR client_id IS NOT NULL", name=op.f("ck_crm_leads_converted_has_client")
        ),
        sa.CheckConstraint(
            "status IN ('new', 'contacted', 'qualified', 'converted', 'lost')",
            name=op.f("ck_crm_leads_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["users.id"], name=op.f("fk_crm_leads_client_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_crm_leads_created_by_users")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_crm_leads_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_leads")),
        sa.UniqueConstraint("client_id", name=op.f("uq_crm_leads_client_id")),
        sa.UniqueConstraint("email", name=op.f("uq_crm_leads_email")),
    )
    with op.batch_alter_table("crm_leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_leads_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index("ix_crm_leads_status_created_at", ["status", "created_at"], unique=False)

    op.create_table(
        "crm_notes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("lead_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(client_id IS NULL) <> (lead_id IS NULL)", name=op.f("ck_crm_notes_one_target")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_crm_notes_author_id_users")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["users.id"], name=op.f("fk_crm_notes_client_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["crm_leads.id"], name=op.f("fk_crm_notes_lead_id_crm_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_notes")),
    )
    with op.batch_alter_table("crm_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_notes_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_notes_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "crm_tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("lead_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("assignee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("priority IN ('low', 'normal', 'high')", name=op.f("ck_crm_tasks_priority_known")),
        sa.CheckConstraint("status IN ('open', 'done')", name=op.f("ck_crm_tasks_status_known")),
        sa.CheckConstraint("(client_id IS NULL) <> (lead_id IS NULL)", name=op.f("ck_crm_tasks_one_target")),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name=op.f("fk_crm_tasks_assignee_id_users")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["users.id"], name=op.f("fk_crm_tasks_client_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_crm_tasks_created_by_users")),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["crm_leads.id"], name=op.f("fk_crm_tasks_lead_id_crm_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_tasks")),
    )
    with op.batch_alter_table("crm_tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_crm_tasks_assignee_id_status_due_on", ["assignee_id", "status", "due_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_crm_tasks_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_tasks_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index("ix_crm_tasks_status_due_on", ["status", "due_on"], unique=False)

    grant({"admin": ["leads.manage"], "support": ["leads.manage"]})


def downgrade() -> None:
    revoke(["leads.manage"])
    with op.batch_alter_table("crm_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_tasks_status_due_on")
        batch_op.drop_index(batch_op.f("ix_crm_tasks_lead_id"))
        batch_op.drop_index(batch_op.f("ix_crm_tasks_client_id"))
        batch_op.drop_index("ix_crm_tasks_assignee_id_status_due_on")

    op.drop_table("crm_tasks")
    with op.batch_alter_table("crm_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_notes_lead_id"))
        batch_op.drop_index(batch_op.f("ix_crm_notes_client_id"))

    op.drop_table("crm_notes")
    with op.batch_alter_table("crm_leads", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_leads_status_created_at")
        batch_op.drop_index(batch_op.f("ix_crm_leads_owner_id"))

    op.drop_table("crm_leads")
