"""ib: the CPAs already paid are found by an index, not by reading every line

Revision ID: cpa_1100
Revises: lines_1000
Create Date: 2026-12-03 14:40:00

Why. For every batch of a scheme with a CPA rule, the engine asks which of the batch's traders
were already paid their CPA. With no index on the trader, PostgreSQL read the whole line table
each time: 246 ms per 1,000 traders over 3.2 million lines, on every batch, and growing with every
line written (a batch of 5,000 deals went from 1.1 s to 2.3 s). CPA lines are one per client and
rule among some sixteen lines per deal, so a partial index holds only them: the other lines cost
it nothing but the test of its condition.

The engine's query (``ib.engine._seed_cpa_history``) says the index's condition with the same
constants and reads it in a materialised CTE. With bound parameters, or with the batch's time test
beside it, PostgreSQL's generic plan (a prepared statement's sixth run on) took the line table's
time index instead and read every older line: 260 to 500 ms per 1,000 traders, the index unused.

Building it reads the line table once (on PostgreSQL ``CREATE INDEX`` holds off writes to it
meanwhile: a few seconds per ten million lines).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cpa_1100"
down_revision: str | Sequence[str] | None = "lines_1000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_ib_commission_line_cpa_paid"
PAID_CPA = sa.text("kind = 'cpa' AND amount > 0")


def upgrade() -> None:
    op.create_index(
        INDEX,
        "ib_commission_line",
        ["trader_client_id"],
        postgresql_where=PAID_CPA,
        sqlite_where=PAID_CPA,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="ib_commission_line")
