"""The IB tree: effective-dated edges, moves from a chosen date, the tree as it stood, no cycles.

An edge says "sub-IB X is under IB Y from ``valid_from`` until ``valid_to``". A move closes the open
edge at the chosen date and opens a new one there, so every earlier moment still answers with the
old parent. A move never touches commission lines: lines already published keep their amounts
(a staff recompute of the period is the only thing that can change them, and it shows its diff
first). A move is refused when it would start before the edge it replaces, or when the new parent
is the IB itself or one of its sub-IBs at any moment from the chosen date on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ib import audit
from ib.errors import CycleError, EffectiveDateError
from ib.models import ClientLink, Partner, PartnerEdge, PartnerTerms
from ib.network import MAX_DEPTH, Span
from ib.partners import get_partner
from ib.timeutil import aware, aware_or_none


async def load_partner_edges(session: AsyncSession) -> dict[int, list[Span]]:
    """Every partner edge, grouped by the sub-IB."""
    edges: dict[int, list[Span]] = {}
    rows = await session.execute(
        select(PartnerEdge.partner_id, PartnerEdge.parent_id, PartnerEdge.valid_from, PartnerEdge.valid_to)
    )
    for partner_id, parent_id, start, end in rows:
        edges.setdefault(partner_id, []).append(Span(aware(start), aware_or_none(end), parent_id))
    return edges


def _parent(edges: dict[int, list[Span]], partner_id: int, moment: datetime) -> int | None:
    for span in edges.get(partner_id, ()):
        if span.covers(moment):
            return span.target
    return None


def _ancestors(edges: dict[int, list[Span]], partner_id: int, moment: datetime) -> list[int]:
    chain: list[int] = []
    current = _parent(edges, partner_id, moment)
    while current is not None and len(chain) <= MAX_DEPTH:
        chain.append(current)
        if current == partner_id:
            break
        current = _parent(edges, current, moment)
    return chain


def would_cycle(edges: dict[int, list[Span]], partner_id: int, parent_id: int, start: datetime) -> bool:
    """Whether putting ``partner_id`` under ``parent_id`` from ``start`` makes a loop at any moment."""
    if parent_id == partner_id:
        return True
    moments = {start}
    for spans in edges.values():
        for span in spans:
            for moment in (span.start, span.end):
                if moment is not None and moment > start:
                    moments.add(moment)
    return any(
        partner_id in _ancestors(edges, parent_id, moment) or parent_id == partner_id for moment in moments
    )


async def move_partner(
    session: AsyncSession,
    partner_id: int,
    new_parent_id: int | None,
    *,
    effective_from: datetime,
    actor: str,
    now: datetime,
    reason: str,
) -> PartnerEdge | None:
    """Put a sub-IB under ``new_parent_id`` (``None``: make it a top-level IB) from ``effective_from``."""
    effective_from = aware(effective_from)
    await get_partner(session, partner_id)
    if new_parent_id is not None:
        await get_partner(session, new_parent_id)
    rows = (
        await session.scalars(
            select(PartnerEdge).where(PartnerEdge.partner_id == partner_id).with_for_update()
        )
    ).all()
    for edge in rows:
        if aware(edge.valid_from) >= effective_from:
            raise EffectiveDateError(
                f"IB {partner_id} already has a tree change on or after {effective_from.isoformat()}"
            )
    edges = await load_partner_edges(session)
    open_edge = next((edge for edge in rows if edge.valid_to is None), None)
    # The tree as it will be: the open edge closed at the chosen date.
    edges[partner_id] = [
        Span(span.start, effective_from if span.end is None else span.end, span.target)
        for span in edges.get(partner_id, [])
    ]
    if new_parent_id is not None and would_cycle(edges, partner_id, new_parent_id, effective_from):
        raise CycleError(f"IB {new_parent_id} is IB {partner_id} or one of its sub-IBs")
    before = None if open_edge is None else {"parent_id": open_edge.parent_id}
    if open_edge is not None:
        open_edge.valid_to = effective_from
    new_edge = None
    if new_parent_id is not None:
        new_edge = PartnerEdge(
            partner_id=partner_id,
            parent_id=new_parent_id,
            valid_from=effective_from,
            reason=reason,
            created_by=actor,
        )
        session.add(new_edge)
    audit.record(
        session,
        actor=actor,
        action="ib.partner_moved",
        subject=f"partner:{partner_id}",
        now=now,
        before=before,
        after={"parent_id": new_parent_id, "effective_from": effective_from.isoformat()},
        reason=reason,
    )
    await session.flush()
    return new_edge


@dataclass
class TreeNode:
    """One IB in the tree as it stood at a moment, with its sub-IBs and its directly referred clients."""

    partner_id: int
    client_id: int
    rank: str | None
    children: list[TreeNode] = field(default_factory=list)
    clients: list[int] = field(default_factory=list)

    def walk(self, depth: int = 0) -> Iterator[tuple[TreeNode, int]]:
        """This node and everything below it, each with its depth under this node (this one is 0)."""
        yield self, depth
        for child in self.children:
            yield from child.walk(depth + 1)

    def as_json(self) -> dict[str, object]:
        return {
            "partner_id": self.partner_id,
            "client_id": self.client_id,
            "rank": self.rank,
            "clients": self.clients,
            "children": [child.as_json() for child in self.children],
        }


async def tree_at(session: AsyncSession, moment: datetime, *, under: int | None = None) -> list[TreeNode]:
    """The whole IB tree as it stood at ``moment``: top-level IBs with everything below them.

    With ``under``, only that IB's branch (``[]`` if it was no IB then); the client links are then
    read for the branch's IBs alone, so one IB's view doesn't load every client of the broker.
    """
    moment = aware(moment)
    partners = {
        pid: (client, aware(since))
        for pid, client, since in await session.execute(select(Partner.id, Partner.client_id, Partner.since))
    }
    ranks: dict[int, tuple[datetime, str | None]] = {}
    for pid, start, rank in await session.execute(
        select(PartnerTerms.partner_id, PartnerTerms.effective_from, PartnerTerms.rank_code)
    ):
        start = aware(start)
        if start <= moment and (pid not in ranks or ranks[pid][0] < start):
            ranks[pid] = (start, rank)
    nodes = {
        pid: TreeNode(pid, client, ranks.get(pid, (moment, None))[1])
        for pid, (client, since) in partners.items()
        if since <= moment
    }
    edges = await load_partner_edges(session)
    roots: list[TreeNode] = []
    for pid in sorted(nodes):
        parent = _parent(edges, pid, moment)
        if parent is not None and parent in nodes:
            nodes[parent].children.append(nodes[pid])
        else:
            roots.append(nodes[pid])
    links = (
        select(ClientLink.client_id, ClientLink.partner_id)
        .where(ClientLink.valid_from <= moment)
        .where((ClientLink.valid_to.is_(None)) | (ClientLink.valid_to > moment))
        .order_by(ClientLink.client_id)
    )
    if under is not None:
        if under not in nodes:
            return []
        roots = [nodes[under]]
        links = links.where(ClientLink.partner_id.in_(sorted(node.partner_id for node, _ in roots[0].walk())))
    for client_id, partner_id in await session.execute(links):
        if partner_id in nodes:
            nodes[partner_id].clients.append(client_id)
    return roots


async def upline_of(session: AsyncSession, partner_id: int, moment: datetime) -> list[int]:
    """The partner's parent, grandparent … at ``moment``, nearest first (the client 360 shows it)."""
    return _ancestors(await load_partner_edges(session), partner_id, moment)
