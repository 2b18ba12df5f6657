"""ib: a commission line is named by its deal, beneficiary and rule; its surrogate id goes

Revision ID: lines_1000
Revises: recompute_0900
Create Date: 2026-12-02 08:00:00

Why. The engine writes about sixteen lines per closing deal, and (deal, beneficiary, rule) was
already unique. The surrogate id cost every line a sequence number and a second B-tree besides
that unique one: about a fifth of PostgreSQL's work per line written. The unique key becomes the
primary key (on PostgreSQL its index is built once more, under the primary key's name).

The upgrade holds the line table's lock while that index builds, so the engine and the IB portal's
commission pages wait for it: about a second per 4 million lines on the development machine
(16 million lines, a month of the commission benchmark, take some 5 to 10 seconds). Run it with
the old processes stopped, as docs/operations.md asks of a release that removes a column.

Going back gives every line a new id, in no particular order. On SQLite the table is rebuilt,
which drops its triggers, so the line's reference triggers (migration ``ibspeed_0700``) are set
aside first and recreated.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.sqlite_triggers import recreate, set_aside_triggers_naming

revision: str = "lines_1000"
down_revision: str | Sequence[str] | None = "recompute_0900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINES = "ib_commission_line"
PRIMARY_KEY = "pk_ib_commission_line"
UNIQUE_KEY = "uq_ib_commission_line_deal_id_beneficiary_id_rule_id"
KEY = ["deal_id", "beneficiary_id", "rule_id"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {LINES} DROP CONSTRAINT {PRIMARY_KEY}")
        op.execute(f"ALTER TABLE {LINES} DROP COLUMN id")  # and the sequence it owns
        # A unique constraint's index can't be handed to a primary key, so the key gets its own
        # index, built before the unique one goes: the table is never without the check.
        op.execute(f"CREATE UNIQUE INDEX {PRIMARY_KEY} ON {LINES} ({', '.join(KEY)})")
        op.execute(f"ALTER TABLE {LINES} DROP CONSTRAINT {UNIQUE_KEY}")
        op.execute(f"ALTER TABLE {LINES} ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY USING INDEX {PRIMARY_KEY}")
        return
    triggers = set_aside_triggers_naming(LINES)
    with op.batch_alter_table(LINES, schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint(UNIQUE_KEY, type_="unique")
        batch_op.drop_column("id")
        batch_op.create_primary_key(PRIMARY_KEY, KEY)
    recreate(triggers)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {LINES} DROP CONSTRAINT {PRIMARY_KEY}")
        op.execute(f"ALTER TABLE {LINES} ADD CONSTRAINT {UNIQUE_KEY} UNIQUE ({', '.join(KEY)})")
        op.execute(f"ALTER TABLE {LINES} ADD COLUMN id BIGSERIAL")
        op.execute(f"ALTER TABLE {LINES} ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY (id)")
        return
    triggers = set_aside_triggers_naming(LINES)
    with op.batch_alter_table(LINES, schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint(PRIMARY_KEY, type_="primary")
        batch_op.add_column(sa.Column("id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(UNIQUE_KEY, KEY)
    op.execute("UPDATE ib_commission_line SET id = rowid")
    with op.batch_alter_table(LINES, schema=None, recreate="always") as batch_op:
        batch_op.alter_column("id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_primary_key(PRIMARY_KEY, ["id"])
    recreate(triggers)
