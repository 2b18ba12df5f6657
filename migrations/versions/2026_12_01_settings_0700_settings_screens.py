"""settings screens: run-time settings, mail template overrides, announcements and their reads,
the fee a deposit paid and a withdrawal reserved; the new screens' permissions granted to the
seeded roles.

Revision ID: settings_0700
Revises: risk_0700
Create Date: 2026-12-01 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.grants import grant, revoke

revision: str = "settings_0700"
down_revision: str | Sequence[str] | None = "risk_0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRANTS: dict[str, tuple[str, ...]] = {
    "admin": (
        "settings.view",
        "settings.company",
        "settings.bank",
        "settings.limits",
        "settings.fees",
        "mail.templates",
        "announcements.manage",
    ),
    "finance": ("settings.view", "settings.bank", "settings.limits", "settings.fees"),
    "support": ("settings.view", "mail.templates", "announcements.manage"),
}


def _id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "config_entries",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("version", _id(), nullable=False),
        sa.Column("updated_by", _id(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_config_entries")),
    )
    op.create_table(
        "mail_template_overrides",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("version", _id(), nullable=False),
        sa.Column("updated_by", _id(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "language", name=op.f("pk_mail_template_overrides")),
    )
    op.create_table(
        "comms_announcements",
        sa.Column("id", _id(), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("title_zh_hans", sa.String(length=200), nullable=False),
        sa.Column("body_zh_hans", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("audience_values", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", _id(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ends_at IS NULL OR ends_at > starts_at", name=op.f("ck_comms_announcements_window")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comms_announcements")),
    )
    with op.batch_alter_table("comms_announcements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_comms_announcements_status_starts_at", ["status", "starts_at"], unique=False
        )
    op.create_table(
        "comms_announcement_reads",
        sa.Column("announcement_id", _id(), nullable=False),
        sa.Column("client_id", _id(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["comms_announcements.id"],
            name=op.f("fk_comms_announcement_reads_announcement_id_comms_announcements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("announcement_id", "client_id", name=op.f("pk_comms_announcement_reads")),
    )
    with op.batch_alter_table("cashier_deposits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fee_amount", _id(), server_default=sa.text("0"), nullable=False))
    with op.batch_alter_table("cashier_withdrawals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fee_amount", _id(), server_default=sa.text("0"), nullable=False))
        batch_op.add_column(sa.Column("fee_transfer_id", _id(), nullable=True))
    grant(GRANTS)


def downgrade() -> None:
    revoke({permission for permissions in GRANTS.values() for permission in permissions})
    with op.batch_alter_table("cashier_withdrawals", schema=None) as batch_op:
        batch_op.drop_column("fee_transfer_id")
        batch_op.drop_column("fee_amount")
    with op.batch_alter_table("cashier_deposits", schema=None) as batch_op:
        batch_op.drop_column("fee_amount")
    op.drop_table("comms_announcement_reads")
    with op.batch_alter_table("comms_announcements", schema=None) as batch_op:
        batch_op.drop_index("ix_comms_announcements_status_starts_at")
    op.drop_table("comms_announcements")
    op.drop_table("mail_template_overrides")
    op.drop_table("config_entries")
