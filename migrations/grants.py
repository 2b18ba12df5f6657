"""Grant and revoke permissions of the seeded roles from a migration.

Migration 0002 seeded the roles with a frozen copy of the catalogue; a later issue that adds a
permission grants it to roles by name here, so fresh and upgraded databases end up the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from alembic import op

_ROLES = sa.table("roles", sa.column("id", sa.Integer), sa.column("name", sa.String))
_GRANTS = sa.table("role_permissions", sa.column("role_id", sa.Integer), sa.column("permission", sa.String))


def grant(permissions_by_role: Mapping[str, Iterable[str]]) -> None:
    """Give each named role its permissions (a role that no longer exists is skipped)."""
    bind = op.get_bind()
    for role_name, permissions in permissions_by_role.items():
        role_id = bind.execute(sa.select(_ROLES.c.id).where(_ROLES.c.name == role_name)).scalar()
        if role_id is None:
            continue
        held = set(
            bind.execute(sa.select(_GRANTS.c.permission).where(_GRANTS.c.role_id == role_id)).scalars()
        )
        rows = [{"role_id": role_id, "permission": name} for name in permissions if name not in held]
        if rows:
            op.bulk_insert(_GRANTS, rows)


def revoke(permissions: Iterable[str]) -> None:
    """Take the permissions away from every role (the downgrade of :func:`grant`)."""
    op.execute(sa.delete(_GRANTS).where(_GRANTS.c.permission.in_(list(permissions))))
