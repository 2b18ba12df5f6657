"""campaigns: marketing mail to saved segments, one row per recipient with its SMTP outcome,
opens and clicks, and clients' marketing opt-outs; ``campaigns.manage`` granted to the seeded
roles that write to clients.

Revision ID: campaigns_0800
Revises: leads_0720
Create Date: 2026-12-01 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.grants import grant, revoke

revision: str = "campaigns_0800"
down_revision: str | Sequence[str] | None = "leads_0720"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRANTS: dict[str, tuple[str, ...]] = {"admin": ("campaigns.manage",), "support": ("campaigns.manage",)}


def _id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "comms_campaigns",
        sa.Column("id", _id(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("segment_id", _id(), nullable=True),
        sa.Column("subject_en", sa.String(length=300), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("subject_zh_hans", sa.String(length=300), nullable=False),
        sa.Column("body_zh_hans", sa.Text(), nullable=False),
        sa.Column("mails_per_minute", _id(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when("send_at"),
        sa.Column("created_by", _id(), nullable=True),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        _when("started_at"),
        _when("finished_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comms_campaigns")),
    )
    with op.batch_alter_table("comms_campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_comms_campaigns_status_send_at", ["status", "send_at"], unique=False)
    op.create_table(
        "comms_campaign_recipients",
        sa.Column("id", _id(), nullable=False),
        sa.Column("campaign_id", _id(), nullable=False),
        sa.Column("client_id", _id(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", _id(), nullable=False),
        _when("next_attempt_at"),
        _when("claimed_at"),
        _when("sent_at"),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("smtp_code", _id(), nullable=True),
        sa.Column("smtp_answer", sa.String(length=500), nullable=False),
        _when("opened_at"),
        _when("clicked_at"),
        sa.Column("clicks", _id(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["comms_campaigns.id"],
            name=op.f("fk_comms_campaign_recipients_campaign_id_comms_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["users.id"],
            name=op.f("fk_comms_campaign_recipients_client_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comms_campaign_recipients")),
        sa.UniqueConstraint(
            "campaign_id", "client_id", name=op.f("uq_comms_campaign_recipients_campaign_id_client_id")
        ),
    )
    with op.batch_alter_table("comms_campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_comms_campaign_recipients_campaign_id_status", ["campaign_id", "status"], unique=False
        )
    op.create_table(
        "comms_marketing_opt_outs",
        sa.Column("client_id", _id(), nullable=False),
        _when("opted_out_at", nullable=False),
        sa.Column("campaign_id", _id(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["users.id"],
            name=op.f("fk_comms_marketing_opt_outs_client_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_comms_marketing_opt_outs")),
    )
    grant(GRANTS)


def downgrade() -> None:
    revoke({permission for permissions in GRANTS.values() for permission in permissions})
    op.drop_table("comms_marketing_opt_outs")
    with op.batch_alter_table("comms_campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_comms_campaign_recipients_campaign_id_status")
    op.drop_table("comms_campaign_recipients")
    with op.batch_alter_table("comms_campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_comms_campaigns_status_send_at")
    op.drop_table("comms_campaigns")
