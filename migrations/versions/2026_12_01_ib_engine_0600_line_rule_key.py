"""ib: a commission line refers to its rule and the rule's version with one composite key.

The two single-column references (rule, scheme version) become one reference to
``ib_rule (id, scheme_version_id)``: stronger (a line can no longer name a rule of another version)
and one check per line instead of two, which the commission engine's bulk writes feel.

Revision ID: ib_engine_0600
Revises: ledgerspeed0600
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ib_engine_0600"
down_revision: str | Sequence[str] | None = "ledgerspeed0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ib_rule", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_ib_rule_id_scheme_version_id"), ["id", "scheme_version_id"]
        )
    with op.batch_alter_table("ib_commission_line", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_ib_commission_line_rule_id_ib_rule"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_ib_commission_line_scheme_version_id_ib_scheme_version"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_ib_commission_line_rule_id_ib_rule"),
            "ib_rule",
            ["rule_id", "scheme_version_id"],
            ["id", "scheme_version_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("ib_commission_line", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_ib_commission_line_rule_id_ib_rule"), type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_ib_commission_line_scheme_version_id_ib_scheme_version"),
            "ib_scheme_version",
            ["scheme_version_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_ib_commission_line_rule_id_ib_rule"), "ib_rule", ["rule_id"], ["id"]
        )
    with op.batch_alter_table("ib_rule", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_ib_rule_id_scheme_version_id"), type_="unique")
