"""analytics: one row of figures per client (net deposits, volume, commissions, activity, churn
risk, value tier), recomputed by a scheduled job; the analytics settings screen's permission
granted to the seeded roles admin and support.

Revision ID: analytics_0800
Revises: tickets_0800
Create Date: 2026-12-01 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.grants import grant, revoke

revision: str = "analytics_0800"
down_revision: str | Sequence[str] | None = "tickets_0800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRANTS: dict[str, tuple[str, ...]] = {"admin": ("settings.analytics",), "support": ("settings.analytics",)}
TABLE = "analytics_client_metrics"


def _int() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("client_id", _int(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("deposited", _int(), nullable=False),
        sa.Column("withdrawn", _int(), nullable=False),
        sa.Column("net_deposits", _int(), nullable=False),
        sa.Column("balance", _int(), nullable=False),
        sa.Column("closing_deals", _int(), nullable=False),
        sa.Column("lots_e8", _int(), nullable=False),
        sa.Column("commissions", _int(), nullable=False),
        sa.Column("last_trade_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("funded", sa.Boolean(), nullable=False),
        sa.Column("churn_risk", sa.Boolean(), nullable=False),
        sa.Column("value_tier", sa.String(length=16), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["users.id"], name=op.f(f"fk_{TABLE}_client_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f(f"pk_{TABLE}")),
    )
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.create_index("ix_analytics_client_metrics_tier", ["value_tier"], unique=False)
        batch_op.create_index("ix_analytics_client_metrics_churn", ["churn_risk"], unique=False)
        batch_op.create_index("ix_analytics_client_metrics_net", ["net_deposits"], unique=False)
        batch_op.create_index("ix_analytics_client_metrics_activity", ["last_activity_at"], unique=False)
    grant(GRANTS)


def downgrade() -> None:
    revoke(["settings.analytics"])
    op.drop_table(TABLE)
