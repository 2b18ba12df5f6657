"""ib: a planned rule's commission lines name a shared basis instead of each carrying its own
provenance text, and the lines' deal-time index becomes a block-range (BRIN) index on PostgreSQL

Revision ID: lines_0900
Revises: analytics_0800
Create Date: 2026-12-01 17:30:00

Why. The engine writes about sixteen lines per closing deal. Every line of a plan (one route and
target) is explained by the same rule arguments plus its own deal, so those arguments are now
stored once per plan in ``ib_line_basis`` (see ``ib/line_basis.py``) and the line names them:
an overriding line's basis names its sub-IB and percentage (what the sub-IB earned is its own
lines of the deal). ``inputs`` and ``formula`` become optional, kept for the lines computed per
deal (CPA, capped rules) and for a line that no longer applies, and a check keeps every line
explained.
Measured on the commission benchmark's lines, the text was about half of each row.

Lines are written in deal-time order, so the index that finds a period's lines (recompute, reports)
is a BRIN index: a few pages per million rows and no per-row upkeep, where the B-tree cost every
line written a descent. Autovacuum summarises each block range once it is full (``autosummarize``);
the recompute reads its lines by deal id, so it never waits on that. SQLite has no BRIN and keeps
its B-tree.

Existing lines keep their own text and have no basis. On SQLite the column changes rebuild the
table, which drops its triggers, so the line's reference triggers (migration ``ibspeed_0700``)
are read back first and recreated.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sqlite_triggers import recreate, set_aside_triggers_naming

revision: str = "lines_0900"
down_revision: str | Sequence[str] | None = "analytics_0800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINES = "ib_commission_line"
EXPLAINED = "basis_id IS NOT NULL OR (inputs IS NOT NULL AND formula IS NOT NULL)"
TIME_INDEX = "ix_ib_commission_line_deal_time"
UNEXPLAINED_SQLITE = (
    "UPDATE ib_commission_line SET inputs = COALESCE(inputs, '{}'),"
    " formula = COALESCE(formula, 'explained by line basis ' || basis_id)"
    " WHERE inputs IS NULL OR formula IS NULL"
)
UNEXPLAINED_POSTGRESQL = UNEXPLAINED_SQLITE.replace("'{}'", "'{}'::json")


def _int() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ib_line_basis",
        sa.Column("id", _int(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.Column("symbol_digits", _int(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ib_line_basis")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    triggers = [] if postgresql else set_aside_triggers_naming(LINES)
    with op.batch_alter_table(LINES, schema=None) as batch_op:
        batch_op.add_column(sa.Column("basis_id", _int(), nullable=True))
        batch_op.alter_column("inputs", existing_type=sa.JSON(), nullable=True)
        batch_op.alter_column("formula", existing_type=sa.Text(), nullable=True)
        batch_op.create_check_constraint(op.f("ck_ib_commission_line_explained"), EXPLAINED)
    recreate(triggers)
    if postgresql:
        op.drop_index(TIME_INDEX, table_name=LINES)
        op.create_index(
            TIME_INDEX, LINES, ["deal_time"], postgresql_using="brin", postgresql_with={"autosummarize": "on"}
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.drop_index(TIME_INDEX, table_name=LINES)
        op.create_index(TIME_INDEX, LINES, ["deal_time"])
    # Going back loses what only the bases explained; each such line says where it was.
    op.execute(UNEXPLAINED_POSTGRESQL if postgresql else UNEXPLAINED_SQLITE)
    triggers = [] if postgresql else set_aside_triggers_naming(LINES)
    with op.batch_alter_table(LINES, schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ib_commission_line_explained"), type_="check")
        batch_op.alter_column("formula", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("inputs", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("basis_id")
    recreate(triggers)
    op.drop_table("ib_line_basis")
