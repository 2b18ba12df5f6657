"""ib: a recompute run can be ``computing``: the back office records the request and a job
computes the dry run, instead of the web request computing the whole period itself

Revision ID: recompute_0900
Revises: lines_0900
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "recompute_0900"
down_revision: str | Sequence[str] | None = "lines_0900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_ib_recompute_run_status_known"


def _status_check(statuses: str) -> None:
    with op.batch_alter_table("ib_recompute_run", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(op.f(NAME), f"status IN ({statuses})")


def upgrade() -> None:
    _status_check("'computing', 'dry_run', 'published'")


def downgrade() -> None:
    op.execute("DELETE FROM ib_recompute_run WHERE status = 'computing'")
    _status_check("'dry_run', 'published'")
