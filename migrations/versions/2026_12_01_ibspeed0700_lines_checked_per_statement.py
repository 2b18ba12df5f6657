"""ib: a commission line's references are checked once per INSERT statement instead of by foreign keys

Revision ID: ibspeed_0700
Revises: reports_0700
Create Date: 2026-12-01 12:00:00

Why. The commission engine writes about sixteen lines per closing deal, a batch's lines in one
COPY. Each line carried three foreign keys (onto ``ib_deal``, ``ib_partner`` and
``ib_rule (id, scheme_version_id)``), so PostgreSQL ran three row-by-row referential lookups per
line: measured on the commission benchmark's lines, COPY went from about 90,000 rows/s with the
keys to about 300,000 without them.

What replaces them checks the same thing, set-based: after every INSERT on
``ib_commission_line``, one query over the statement's new rows (a transition table) checks that
every distinct deal, beneficiary and (rule, scheme version) the rows name exists. An UPDATE that
changes one of those columns (the engine's updates change ``scheme_version_id`` when a later
version pays) is checked row by row; one that leaves them alone costs nothing, as with the keys.
The referenced side is guarded too, as the keys guarded it: deleting a deal, partner or rule that a
line names, or changing its id (or a rule's version), is refused.

SQLite has no statement triggers: there every check is a row-level BEFORE trigger (what its
foreign keys did anyway). Its foreign keys go by rebuilding the table (``recreate="always"``);
the table has no other triggers to recreate.

Every refusal raises a foreign-key violation (SQLSTATE 23503 on PostgreSQL, a constraint abort
on SQLite), which drivers report as an integrity error, like the keys did.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ibspeed_0700"
down_revision: str | Sequence[str] | None = "reports_0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINE_FOREIGN_KEYS = {
    "fk_ib_commission_line_deal_id_ib_deal": ("ib_deal", ["deal_id"], ["id"]),
    "fk_ib_commission_line_beneficiary_id_ib_partner": ("ib_partner", ["beneficiary_id"], ["id"]),
    "fk_ib_commission_line_rule_id_ib_rule": (
        "ib_rule",
        ["rule_id", "scheme_version_id"],
        ["id", "scheme_version_id"],
    ),
}

MESSAGE = "ib: a commission line must name an existing deal, beneficiary and rule of its scheme version"
REFERENCED = "ib: a commission line names this row"

# (table, what a line names it by, the line columns, the row's columns)
PARENTS = (
    ("ib_deal", "deal", ("deal_id",), ("id",)),
    ("ib_partner", "partner", ("beneficiary_id",), ("id",)),
    ("ib_rule", "rule", ("rule_id", "scheme_version_id"), ("id", "scheme_version_id")),
)


NEW_LINES_MISSING = (
    "EXISTS (SELECT FROM (SELECT DISTINCT deal_id FROM new_lines) AS l"
    " WHERE NOT EXISTS (SELECT FROM ib_deal AS d WHERE d.id = l.deal_id))"
    " OR EXISTS (SELECT FROM (SELECT DISTINCT beneficiary_id FROM new_lines) AS l"
    " WHERE NOT EXISTS (SELECT FROM ib_partner AS p WHERE p.id = l.beneficiary_id))"
    " OR EXISTS (SELECT FROM (SELECT DISTINCT rule_id, scheme_version_id FROM new_lines) AS l"
    " WHERE NOT EXISTS (SELECT FROM ib_rule AS r"
    " WHERE r.id = l.rule_id AND r.scheme_version_id = l.scheme_version_id))"
)
"""True when some line of the statement's new rows names a missing deal, partner or rule: each
distinct value once, not each line."""


def _row_missing() -> str:
    """The same condition for one row, ``NEW``."""
    return (
        "NOT EXISTS (SELECT 1 FROM ib_deal AS d WHERE d.id = NEW.deal_id)"
        " OR NOT EXISTS (SELECT 1 FROM ib_partner AS p WHERE p.id = NEW.beneficiary_id)"
        " OR NOT EXISTS (SELECT 1 FROM ib_rule AS r"
        " WHERE r.id = NEW.rule_id AND r.scheme_version_id = NEW.scheme_version_id)"
    )


KEYS_CHANGED = (
    "OLD.deal_id IS DISTINCT FROM NEW.deal_id OR OLD.beneficiary_id IS DISTINCT FROM NEW.beneficiary_id"
    " OR OLD.rule_id IS DISTINCT FROM NEW.rule_id"
    " OR OLD.scheme_version_id IS DISTINCT FROM NEW.scheme_version_id"
)


def _named(line_columns: Sequence[str], row_columns: Sequence[str]) -> str:
    """A condition true when some line names the row ``OLD``."""
    match = " AND ".join(f"l.{line} = OLD.{row}" for line, row in zip(line_columns, row_columns, strict=True))
    return f"EXISTS (SELECT 1 FROM ib_commission_line AS l WHERE {match})"  # noqa: S608 (constants)


def _parent_changed(row_columns: Sequence[str]) -> str:
    return " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in row_columns)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
        return
    with op.batch_alter_table("ib_commission_line", recreate="always") as batch:
        for name in LINE_FOREIGN_KEYS:
            batch.drop_constraint(name, type_="foreignkey")
    for event, when in (("INSERT", _row_missing()), ("UPDATE", f"({KEYS_CHANGED}) AND ({_row_missing()})")):
        op.execute(
            f"CREATE TRIGGER ib_commission_line_references_{event.lower()} BEFORE {event}"
            f" ON ib_commission_line WHEN {when}"
            f" BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
    for table, noun, line_columns, row_columns in PARENTS:
        op.execute(
            f"CREATE TRIGGER {table}_named_by_lines_delete BEFORE DELETE ON {table}"
            f" WHEN {_named(line_columns, row_columns)}"
            f" BEGIN SELECT RAISE(ABORT, '{REFERENCED} ({noun})'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_named_by_lines_update BEFORE UPDATE ON {table}"
            f" WHEN ({_parent_changed(row_columns)}) AND {_named(line_columns, row_columns)}"
            f" BEGIN SELECT RAISE(ABORT, '{REFERENCED} ({noun})'); END"
        )


def _upgrade_postgresql() -> None:
    for name in LINE_FOREIGN_KEYS:
        op.drop_constraint(name, "ib_commission_line", type_="foreignkey")
    op.execute(
        f"""
        CREATE FUNCTION ib_commission_lines_reference_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {NEW_LINES_MISSING} THEN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER ib_commission_line_references_insert AFTER INSERT ON ib_commission_line"
        " REFERENCING NEW TABLE AS new_lines"
        " FOR EACH STATEMENT EXECUTE FUNCTION ib_commission_lines_reference_rows()"
    )
    op.execute(
        f"""
        CREATE FUNCTION ib_commission_line_references_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {_row_missing()} THEN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER ib_commission_line_references_update AFTER UPDATE ON ib_commission_line"
        f" FOR EACH ROW WHEN ({KEYS_CHANGED}) EXECUTE FUNCTION ib_commission_line_references_row()"
    )
    for table, noun, line_columns, row_columns in PARENTS:
        op.execute(
            f"""
            CREATE FUNCTION {table}_not_named_by_lines() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF {_named(line_columns, row_columns)} THEN
                    RAISE EXCEPTION '{REFERENCED} ({noun})' USING ERRCODE = 'foreign_key_violation';
                END IF;
                RETURN OLD;
            END
            $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_named_by_lines_delete BEFORE DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {table}_not_named_by_lines()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_named_by_lines_update BEFORE UPDATE ON {table}"
            f" FOR EACH ROW WHEN ({_parent_changed(row_columns)})"
            f" EXECUTE FUNCTION {table}_not_named_by_lines()"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, _noun, _line_columns, _row_columns in PARENTS:
        for event in ("delete", "update"):
            on = f" ON {table}" if postgresql else ""
            op.execute(f"DROP TRIGGER IF EXISTS {table}_named_by_lines_{event}{on}")
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS {table}_not_named_by_lines()")
    for event in ("insert", "update"):
        op.execute(
            f"DROP TRIGGER IF EXISTS ib_commission_line_references_{event}"
            + (" ON ib_commission_line" if postgresql else "")
        )
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS ib_commission_lines_reference_rows()")
        op.execute("DROP FUNCTION IF EXISTS ib_commission_line_references_row()")
        for name, (table, local, remote) in LINE_FOREIGN_KEYS.items():
            op.create_foreign_key(name, "ib_commission_line", table, local, remote)
        return
    with op.batch_alter_table("ib_commission_line", recreate="always") as batch:
        for name, (table, local, remote) in LINE_FOREIGN_KEYS.items():
            batch.create_foreign_key(name, table, local, remote)
