"""reports: the dead-letter table, an index on deal time for the reports, jobs.manage for admin.

* ``core_dead_letter``: jobs that exhausted their retries (``core.dead_letters``), recorded by the
  workers' middleware, retried or discarded from the back office.
* ``ix_mt_deal_time``: the trading and acquisition reports read deals by time across servers;
  the existing ``(server_id, time)`` index serves one server at a time only.
* ``ix_mt_deal_server_login_time``: whether (and when) an account traded, for the acquisition
  funnel's "traded" stage (and any per-account deal list), without a scan of every deal;
* the new permission ``jobs.manage`` (the dead-letter page) is granted to the seeded admin role;
  ``reports.read`` already exists and is held by admin, compliance, finance, ib_manager, read_only.

Revision ID: reports_0700
Revises: settings_0700
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.grants import grant, revoke

revision: str = "reports_0700"
down_revision: str | Sequence[str] | None = "settings_0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_dead_letter",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("queue_name", sa.String(length=128), nullable=False),
        sa.Column("actor_name", sa.String(length=128), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("retries", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurrences", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_by", sa.String(length=320), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_dead_letter")),
    )
    op.create_index(
        "ix_core_dead_letter_status_failed_at", "core_dead_letter", ["status", "failed_at"], unique=False
    )
    op.create_index("ix_mt_deal_time", "mt_deal", ["time"], unique=False)
    op.create_index("ix_mt_deal_server_login_time", "mt_deal", ["server_id", "login", "time"], unique=False)
    grant({"admin": ["jobs.manage"]})


def downgrade() -> None:
    revoke(["jobs.manage"])
    op.drop_index("ix_mt_deal_server_login_time", table_name="mt_deal")
    op.drop_index("ix_mt_deal_time", table_name="mt_deal")
    op.drop_index("ix_core_dead_letter_status_failed_at", table_name="core_dead_letter")
    op.drop_table("core_dead_letter")
