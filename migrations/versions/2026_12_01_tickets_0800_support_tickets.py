"""support: tickets, messages, attachments, canned replies and SLA targets; mail_outbox.reply_to;
staff roles admin and support get support.manage and support.settings.

Revision ID: tickets_0800
Revises: webhooks_0800
Create Date: 2026-12-01 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.grants import grant, revoke

revision: str = "tickets_0800"
down_revision: str | Sequence[str] | None = "webhooks_0800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "support_canned_replies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_support_canned_replies_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_canned_replies")),
        sa.UniqueConstraint("title", name=op.f("uq_support_canned_replies_title")),
    )
    op.create_table(
        "support_sla_targets",
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column(
            "first_response_minutes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("resolution_minutes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'urgent')",
            name=op.f("ck_support_sla_targets_priority_known"),
        ),
        sa.CheckConstraint(
            "first_response_minutes > 0 AND resolution_minutes >= first_response_minutes",
            name=op.f("ck_support_sla_targets_sane"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_support_sla_targets_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("priority", name=op.f("pk_support_sla_targets")),
    )
    op.create_table(
        "support_tickets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("assignee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reply_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "category IN ('account', 'verification', 'funding', 'trading', 'partners', 'technical', 'other')",
            name=op.f("ck_support_tickets_category_known"),
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'urgent')", name=op.f("ck_support_tickets_priority_known")
        ),
        sa.CheckConstraint(
            "status IN ('new', 'open', 'waiting_on_client', 'resolved', 'closed')",
            name=op.f("ck_support_tickets_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_support_tickets_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["users.id"], name=op.f("fk_support_tickets_client_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_tickets")),
        sa.UniqueConstraint("reply_token", name=op.f("uq_support_tickets_reply_token")),
    )
    with op.batch_alter_table("support_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_support_tickets_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(
            "ix_support_tickets_client_id_updated_at", ["client_id", "updated_at"], unique=False
        )
        batch_op.create_index("ix_support_tickets_status_priority", ["status", "priority"], unique=False)

    op.create_table(
        "support_ticket_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("mail_message_id", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('client', 'staff', 'note')", name=op.f("ck_support_ticket_messages_kind_known")
        ),
        sa.CheckConstraint(
            "source IN ('portal', 'api', 'mail', 'backoffice')",
            name=op.f("ck_support_ticket_messages_source_known"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_support_ticket_messages_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["support_tickets.id"],
            name=op.f("fk_support_ticket_messages_ticket_id_support_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_ticket_messages")),
        sa.UniqueConstraint("mail_message_id", name=op.f("uq_support_ticket_messages_mail_message_id")),
    )
    with op.batch_alter_table("support_ticket_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_ticket_messages_ticket_id_created_at", ["ticket_id", "created_at"], unique=False
        )

    op.create_table(
        "support_ticket_attachments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("original_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["support_ticket_messages.id"],
            name=op.f("fk_support_ticket_attachments_message_id_support_ticket_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["support_tickets.id"],
            name=op.f("fk_support_ticket_attachments_ticket_id_support_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_ticket_attachments")),
    )
    with op.batch_alter_table("support_ticket_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_support_ticket_attachments_ticket_id"), ["ticket_id"], unique=False
        )

    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_to", sa.String(length=320), server_default="", nullable=False))
    grant(
        {
            "admin": ["support.manage", "support.settings"],
            "support": ["support.manage", "support.settings"],
        }
    )


def downgrade() -> None:
    revoke(["support.manage", "support.settings"])
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_column("reply_to")

    with op.batch_alter_table("support_ticket_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_ticket_attachments_ticket_id"))

    op.drop_table("support_ticket_attachments")
    with op.batch_alter_table("support_ticket_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_support_ticket_messages_ticket_id_created_at")

    op.drop_table("support_ticket_messages")
    with op.batch_alter_table("support_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_support_tickets_status_priority")
        batch_op.drop_index("ix_support_tickets_client_id_updated_at")
        batch_op.drop_index(batch_op.f("ix_support_tickets_assignee_id"))

    op.drop_table("support_tickets")
    op.drop_table("support_sla_targets")
    op.drop_table("support_canned_replies")
