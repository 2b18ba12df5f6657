"""An in-memory snapshot of the IB network: who was under whom, on which terms, at any moment.

Both the engine (loaded from the database) and the simulator (read from a scenario file) build one
:class:`Network`, and the calculation core asks it for a deal's upline at the deal's time. Every
relation is a list of half-open intervals ``[start, end)``, so "the tree as it stood" at any past
moment is a lookup, never a reconstruction.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ib.rules.base import Member, VersionSnapshot

MAX_DEPTH = 64
"""A guard against a corrupted tree; cycles are refused when edges are written."""


@dataclass(frozen=True, slots=True)
class Span:
    """``target`` holds from ``start`` (inclusive) to ``end`` (exclusive; ``None`` means still open)."""

    start: datetime
    end: datetime | None
    target: int

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)


@dataclass(frozen=True, slots=True)
class Terms:
    effective_from: datetime
    scheme_id: int
    rank: str | None


Route = tuple[int, bool, int]
"""(level-1 IB, whether it is the trader's own trade, network epoch): what decides a trade's upline."""

Routed = tuple["Route | None", tuple[Member, ...], VersionSnapshot | None]


def _find(spans: Iterable[Span] | None, moment: datetime) -> int | None:
    for span in spans or ():
        if span.covers(moment):
            return span.target
    return None


class Network:
    """Partners, edges, client links, terms, scheme versions and allocations, all effective-dated."""

    def __init__(
        self,
        *,
        partners: Mapping[int, tuple[int, datetime]],
        client_links: Mapping[int, list[Span]],
        partner_edges: Mapping[int, list[Span]],
        terms: Mapping[int, list[Terms]],
        versions: Mapping[int, list[VersionSnapshot]],
        allocations: Mapping[tuple[int, int, str], list[tuple[datetime, int]]],
        rank_positions: Mapping[str, int],
    ) -> None:
        self.partners = dict(partners)
        """partner id -> (client id, partner since)"""
        self.partner_of_client = {client: pid for pid, (client, _since) in self.partners.items()}
        self.client_links = client_links
        self.partner_edges = partner_edges
        self.terms = {pid: sorted(items, key=lambda t: t.effective_from) for pid, items in terms.items()}
        self._terms_starts = {pid: [t.effective_from for t in items] for pid, items in self.terms.items()}
        self.versions = {
            sid: sorted(items, key=lambda v: v.effective_from) for sid, items in versions.items()
        }
        self._version_starts = {
            sid: [v.effective_from for v in items] for sid, items in self.versions.items()
        }
        self.allocations = {key: sorted(items) for key, items in allocations.items()}
        self.rank_positions = dict(rank_positions)
        self._changes = _change_moments(self)
        self._routes: dict[tuple[int, int], Routed] = {}
        self._uplines: dict[Route | None, Routed] = {}
        self.plans: dict[object, object] = {}
        """What the calculation core compiled for this network (:mod:`ib.calculation`): it holds
        only what this snapshot decides, so it lives and dies with it."""

    def epoch(self, moment: datetime) -> int:
        """How many changes of the network happened at or before ``moment``.

        Every relation here is a step function of time that steps at a change moment, so two
        moments with the same epoch see the same tree, terms, versions and allocations.
        """
        return bisect_right(self._changes, moment)

    def governing(
        self, client_id: int, moment: datetime
    ) -> tuple[tuple[Member, ...], VersionSnapshot | None]:
        """A trade's upline and the scheme version its level-1 IB held (see :meth:`route`)."""
        _route, upline, version = self.route(client_id, moment)
        return upline, version

    def route(
        self, client_id: int, moment: datetime
    ) -> tuple[Route | None, tuple[Member, ...], VersionSnapshot | None]:
        """A trade's route (its level-1 IB, whether that IB is the trader, and the epoch), upline and
        governing scheme version.

        The route alone decides the upline and the version, so both are remembered per route (every
        client of one IB shares them) and the route per client and epoch: a batch of deals walks the
        tree once per IB, not once per client or deal. ``None`` when no IB is above the trade.
        """
        epoch = self.epoch(moment)
        found = self._routes.get((client_id, epoch))
        if found is None:
            direct = self.direct_ib(client_id, moment)
            route = None if direct is None else (direct[0], direct[1], epoch)
            found = self._uplines.get(route)
            if found is None:
                upline = self.upline(client_id, moment)
                version = None
                if upline:
                    terms = self.terms_at(upline[0].partner_id, moment)
                    version = None if terms is None else self.version_at(terms.scheme_id, moment)
                found = (route, upline, version)
                self._uplines[route] = found
            self._routes[(client_id, epoch)] = found
        return found

    def parent(self, partner_id: int, moment: datetime) -> int | None:
        return _find(self.partner_edges.get(partner_id), moment)

    def direct_ib(self, client_id: int, moment: datetime) -> tuple[int, bool] | None:
        """The IB at level 1 for a trade by ``client_id``: the client itself when it was an IB then."""
        partner_id = self.partner_of_client.get(client_id)
        if partner_id is not None and self.partners[partner_id][1] <= moment:
            return partner_id, True
        linked = _find(self.client_links.get(client_id), moment)
        return None if linked is None else (linked, False)

    def terms_at(self, partner_id: int, moment: datetime) -> Terms | None:
        starts = self._terms_starts.get(partner_id)
        if not starts:
            return None
        index = bisect_right(starts, moment) - 1
        return self.terms[partner_id][index] if index >= 0 else None

    def rank_at(self, partner_id: int, moment: datetime) -> str | None:
        terms = self.terms_at(partner_id, moment)
        return None if terms is None else terms.rank

    def rank_position(self, rank: str | None) -> int | None:
        return None if rank is None else self.rank_positions.get(rank)

    def version_at(self, scheme_id: int, moment: datetime) -> VersionSnapshot | None:
        starts = self._version_starts.get(scheme_id)
        if not starts:
            return None
        index = bisect_right(starts, moment) - 1
        return self.versions[scheme_id][index] if index >= 0 else None

    def allocation(self, giver_id: int, receiver_id: int, rule_code: str, moment: datetime) -> int | None:
        items = self.allocations.get((giver_id, receiver_id, rule_code))
        if not items:
            return None
        amount = None
        for start, value in items:
            if start <= moment:
                amount = value
        return amount

    def upline(self, client_id: int, moment: datetime) -> tuple[Member, ...]:
        """The IBs above a trade by ``client_id`` at ``moment``, level 1 first."""
        direct = self.direct_ib(client_id, moment)
        if direct is None:
            return ()
        partner_id, own = direct
        members: list[Member] = []
        seen: set[int] = set()
        current: int | None = partner_id
        while current is not None and current not in seen and len(members) < MAX_DEPTH:
            seen.add(current)
            members.append(
                Member(current, len(members) + 1, self.rank_at(current, moment), own and not members)
            )
            current = self.parent(current, moment)
        return tuple(members)

    def ancestors(self, partner_id: int, moment: datetime) -> list[int]:
        """The chain above one partner at ``moment`` (nearest first)."""
        chain: list[int] = []
        current = self.parent(partner_id, moment)
        while current is not None and current not in chain and len(chain) < MAX_DEPTH:
            chain.append(current)
            current = self.parent(current, moment)
        return chain


def _change_moments(network: Network) -> list[datetime]:
    """Every moment at which some effective-dated relation of ``network`` starts or ends."""
    moments: set[datetime] = {since for _client, since in network.partners.values()}
    for spans in (*network.client_links.values(), *network.partner_edges.values()):
        for span in spans:
            moments.add(span.start)
            if span.end is not None:
                moments.add(span.end)
    for starts in (*network._terms_starts.values(), *network._version_starts.values()):
        moments.update(starts)
    for items in network.allocations.values():
        moments.update(start for start, _amount in items)
    return sorted(moments)
