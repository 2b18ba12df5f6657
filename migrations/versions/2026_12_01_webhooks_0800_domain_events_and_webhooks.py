"""webhooks: domain events, webhook endpoints and their deliveries; webhooks.manage for admin.

* ``core_events``: facts written in the transaction of the change they describe (``core.events``);
  ``dispatched_at`` is set when the webhooks fan an event out, found by its index.
* ``webhooks_endpoints``: staff-registered URLs, their event kinds and sealed signing secrets.
* ``webhooks_deliveries``: one row per (event, endpoint), with attempts, backoff and the last answer.
* the new permission ``webhooks.manage`` is granted to the seeded admin role.

Revision ID: webhooks_0800
Revises: kb_0800
Create Date: 2026-12-01 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.grants import grant, revoke

revision: str = "webhooks_0800"
down_revision: str | Sequence[str] | None = "kb_0800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_events")),
        sa.UniqueConstraint("uid", name=op.f("uq_core_events_uid")),
    )
    with op.batch_alter_table("core_events", schema=None) as batch_op:
        batch_op.create_index("ix_core_events_dispatched_at_id", ["dispatched_at", "id"], unique=False)

    op.create_table(
        "webhooks_endpoints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_webhooks_endpoints_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks_endpoints")),
    )
    op.create_table(
        "webhooks_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("round_attempts", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'delivered', 'failed')",
            name=op.f("ck_webhooks_deliveries_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhooks_endpoints.id"],
            name=op.f("fk_webhooks_deliveries_endpoint_id_webhooks_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["core_events.id"], name=op.f("fk_webhooks_deliveries_event_id_core_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks_deliveries")),
        sa.UniqueConstraint(
            "event_id", "endpoint_id", name=op.f("uq_webhooks_deliveries_event_id_endpoint_id")
        ),
    )
    with op.batch_alter_table("webhooks_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhooks_deliveries_endpoint_id_id", ["endpoint_id", "id"], unique=False)
        batch_op.create_index(
            "ix_webhooks_deliveries_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )
    grant({"admin": ["webhooks.manage"]})


def downgrade() -> None:
    revoke(["webhooks.manage"])
    with op.batch_alter_table("webhooks_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhooks_deliveries_status_next_attempt_at")
        batch_op.drop_index("ix_webhooks_deliveries_endpoint_id_id")

    op.drop_table("webhooks_deliveries")
    op.drop_table("webhooks_endpoints")
    with op.batch_alter_table("core_events", schema=None) as batch_op:
        batch_op.drop_index("ix_core_events_dispatched_at_id")

    op.drop_table("core_events")
