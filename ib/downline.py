"""One IB's own network at a moment: the IB, every sub-IB below it, and the clients attributed to them.

Every IB portal page and API answer is cut to this set, so ownership is decided in one place: a
client, a deal or a sub-IB outside it is "not found" for that IB. The portal asks for the network
as it stands *today*; a client moved to another IB yesterday is no longer in the old IB's view.

The branch comes from :func:`ib.hierarchy.tree_at`; queries over deals and lines don't list the
network's clients as parameters but select them from the attribution table for the network's IBs
(:meth:`Downline.client_filter`), so a network of any size stays one bounded query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import ColumnElement, SQLColumnExpression, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ib.errors import PartnerNotFoundError
from ib.hierarchy import TreeNode, tree_at
from ib.models import ClientLink
from ib.timeutil import aware


@dataclass(frozen=True)
class Downline:
    """The network of ``root.partner_id`` at ``moment``."""

    root: TreeNode
    moment: datetime

    @property
    def partner_id(self) -> int:
        return self.root.partner_id

    @cached_property
    def partner_ids(self) -> frozenset[int]:
        """The IB itself and every sub-IB below it."""
        return frozenset(node.partner_id for node, _depth in self.root.walk())

    @cached_property
    def parent_of(self) -> dict[int, int]:
        """Each sub-IB's partner id -> its parent's, inside the network."""
        return {
            child.partner_id: node.partner_id for node, _depth in self.root.walk() for child in node.children
        }

    @cached_property
    def sub_ib_clients(self) -> dict[int, int]:
        """The client id of every sub-IB (its own trading is part of the network) -> its partner id."""
        return {node.client_id: node.partner_id for node, depth in self.root.walk() if depth > 0}

    @cached_property
    def referred_clients(self) -> dict[int, int]:
        """Each client attributed to an IB of the network -> that IB's partner id."""
        return {client: node.partner_id for node, _depth in self.root.walk() for client in node.clients}

    def owns_client(self, client_id: int) -> bool:
        return client_id in self.referred_clients or client_id in self.sub_ib_clients

    def owns_partner(self, partner_id: int) -> bool:
        return partner_id in self.partner_ids

    def client_filter(self, column: SQLColumnExpression[int]) -> ColumnElement[bool]:
        """SQL: ``column`` (a client id) belongs to this network at its moment."""
        moment = self.moment
        attributed = select(ClientLink.client_id).where(
            ClientLink.partner_id.in_(sorted(self.partner_ids)),
            ClientLink.valid_from <= moment,
            or_(ClientLink.valid_to.is_(None), ClientLink.valid_to > moment),
        )
        return or_(column.in_(attributed), column.in_(sorted(self.sub_ib_clients)))


async def downline_of(session: AsyncSession, partner_id: int, moment: datetime) -> Downline:
    """The network of one IB at ``moment``; :class:`PartnerNotFoundError` if it was no IB then."""
    moment = aware(moment)
    branch = await tree_at(session, moment, under=partner_id)
    if not branch:
        raise PartnerNotFoundError(f"IB {partner_id} is not in the tree at {moment.isoformat()}")
    return Downline(branch[0], moment)
