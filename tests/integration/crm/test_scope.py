"""Data scope: limited staff see only the clients they or their team own; changes are audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.audit.service import SYSTEM
from core.db import Database
from core.identity.models import CLIENT, User
from crm.assignment import assign_client, set_data_scope
from crm.errors import AssignmentError, InvalidScopeError, OutOfScopeError
from crm.scope import ScopeKind, data_scope_of, require_visible_client, visible_clients
from tests.helpers import make_client, make_staff


async def _visible_ids(db: Database, staff_id: int) -> set[int]:
    async with db.session() as session:
        scope = await data_scope_of(session, staff_id)
        rows = await session.scalars(
            select(User.id).where(User.kind == CLIENT, visible_clients(scope, User.id))
        )
        return set(rows)


async def test_each_scope_sees_what_it_owns(db: Database, settings: Any) -> None:
    alice, _ = await make_staff(db, settings, "alice@staff.example", ["support"])
    bob, _ = await make_staff(db, settings, "bob@staff.example", ["support"])
    carol, _ = await make_staff(db, settings, "carol@staff.example", ["support"])
    boss, _ = await make_staff(db, settings, "boss@staff.example", ["support"])
    mine = await make_client(db, settings, "mine@client.example")
    bobs = await make_client(db, settings, "bobs@client.example")
    carols = await make_client(db, settings, "carols@client.example")
    nobodys = await make_client(db, settings, "nobody@client.example")
    async with db.transaction() as session:
        await set_data_scope(session, SYSTEM, alice, "own", "")
        await set_data_scope(session, SYSTEM, bob, "team", "east")
        await set_data_scope(session, SYSTEM, carol, "team", "east")
        await assign_client(session, SYSTEM, mine, alice)
        await assign_client(session, SYSTEM, bobs, bob)
        await assign_client(session, SYSTEM, carols, carol)

    assert await _visible_ids(db, alice) == {mine}
    assert await _visible_ids(db, bob) == {bobs, carols}
    assert await _visible_ids(db, boss) == {mine, bobs, carols, nobodys}
    async with db.session() as session:
        scope = await data_scope_of(session, alice)
        assert scope.kind is ScopeKind.OWN
        await require_visible_client(session, scope, mine)
        with pytest.raises(OutOfScopeError):
            await require_visible_client(session, scope, bobs)
        with pytest.raises(OutOfScopeError):
            await require_visible_client(session, scope, nobodys)


async def test_reassignment_is_audited_and_bad_input_changes_nothing(db: Database, settings: Any) -> None:
    alice, _ = await make_staff(db, settings, "alice@staff.example", ["support"])
    bob, _ = await make_staff(db, settings, "bob@staff.example", ["support"])
    client = await make_client(db, settings, "c@client.example")
    async with db.transaction() as session:
        await assign_client(session, SYSTEM, client, alice)
        await assign_client(session, SYSTEM, client, bob)
        await assign_client(session, SYSTEM, client, bob)  # no change, no event
    for bad in (
        lambda s: assign_client(s, SYSTEM, client, client),  # a client is not staff
        lambda s: assign_client(s, SYSTEM, alice, bob),  # staff is not a client
        lambda s: set_data_scope(s, SYSTEM, alice, "team", "  "),
        lambda s: set_data_scope(s, SYSTEM, alice, "everyone", ""),
    ):
        with pytest.raises((AssignmentError, InvalidScopeError)):
            async with db.transaction() as session:
                await bad(session)
    async with db.session() as session:
        events = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action.like("crm.%")).order_by(AuditEvent.id)
            )
        )
        scope = await data_scope_of(session, alice)
    assert [(e.action, e.before, e.after) for e in events] == [
        ("crm.client_assigned", {"owner_id": None}, {"owner_id": alice}),
        ("crm.client_assigned", {"owner_id": alice}, {"owner_id": bob}),
    ]
    assert scope.kind is ScopeKind.ALL
