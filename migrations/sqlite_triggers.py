"""Keep SQLite's triggers across a table rebuild from a migration.

Alembic's batch mode rebuilds a SQLite table (copy, drop, rename), which drops the table's own
triggers and trips over other tables' triggers whose bodies name it. Such a migration sets those
triggers aside first and recreates them from their own SQL after.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def set_aside_triggers_naming(table: str) -> list[tuple[str, str]]:
    """Drop every SQLite trigger on ``table`` or naming it; returns their (name, SQL)."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
            " AND (tbl_name = :table OR sql LIKE '%' || :table || '%')"
        ),
        {"table": table},
    )
    triggers = [(row[0], row[1]) for row in rows]
    for name, _sql in triggers:
        op.execute(f'DROP TRIGGER "{name}"')
    return triggers


def recreate(triggers: list[tuple[str, str]]) -> None:
    """Recreate triggers set aside by :func:`set_aside_triggers_naming`."""
    for _name, sql in triggers:
        op.execute(sql)
