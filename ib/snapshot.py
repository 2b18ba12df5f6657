"""Load the :class:`~ib.network.Network` the calculation core needs from the database.

Partners, edges, terms, versions and allocations are few and are loaded whole; client links only
for the clients whose deals are being computed. A dry-run recompute may add one draft version to
what the engine would see.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from ib.models import Allocation, ClientLink, Partner, PartnerTerms, Rank, Rule, Scheme, SchemeVersion
from ib.network import Network, Span, Terms
from ib.rules.base import Conditions, RuleSpec, VersionSnapshot
from ib.timeutil import aware, aware_or_none

SQL_CHUNK = 900
"""Most values bound in one ``IN (…)``: SQLite limits a statement's parameters."""

T = TypeVar("T")


def chunked(values: Sequence[T], size: int = SQL_CHUNK) -> Iterable[Sequence[T]]:
    """``values`` in slices of at most ``size``, for ``IN (…)`` lists and bulk statements."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def among(session: AsyncSession, column: Any, values: Sequence[Any]) -> list[ColumnElement[bool]]:
    """Conditions "``column`` is one of ``values``", one per statement to run.

    On PostgreSQL one condition, ``column IN (SELECT unnest(array))``: a single parameter however
    many values, so one prepared statement serves every batch (an ``IN`` of 900 bound values costs
    the driver some 130 ms per statement, the array 4 ms). Not ``column = ANY(array)``: once the
    driver's prepared statement falls back to PostgreSQL's generic plan (from its sixth run), a
    filter ``= ANY($1)`` compares every row with the array value by value, which took 78 ms instead
    of 3 ms to find 4,000 logins among 10,000 accounts; the ``unnest`` is planned as a join.
    On SQLite ``IN`` lists of :data:`SQL_CHUNK`.
    """
    if not values:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return [column.in_(select(func.unnest(literal(list(values), ARRAY(column.type)))))]
    return [column.in_(chunk) for chunk in chunked(values)]


async def load_versions(
    session: AsyncSession, *, draft_version_id: int | None = None
) -> dict[int, list[VersionSnapshot]]:
    """Published versions (plus one draft, for a dry run) with their rules, per scheme."""
    currencies = {sid: cur for sid, cur in await session.execute(select(Scheme.id, Scheme.currency))}
    statement = select(SchemeVersion).where(
        (SchemeVersion.status == "published") | (SchemeVersion.id == (draft_version_id or -1))
    )
    versions = (await session.scalars(statement)).all()
    rules: dict[int, list[RuleSpec]] = {version.id: [] for version in versions}
    if rules:
        for rule in (
            await session.scalars(select(Rule).where(Rule.scheme_version_id.in_(list(rules))))
        ).all():
            rules[rule.scheme_version_id].append(
                RuleSpec(
                    rule.id,
                    rule.code,
                    rule.kind,
                    rule.params,
                    Conditions.parse(rule.conditions),
                    rule.account_type,
                    rule.symbol_group,
                    rule.symbol,
                )
            )
    by_scheme: dict[int, list[VersionSnapshot]] = {}
    for version in versions:
        snapshot = VersionSnapshot(
            version.id,
            version.scheme_id,
            currencies[version.scheme_id],
            aware(version.effective_from),
            tuple(rules[version.id]),
        )
        by_scheme.setdefault(version.scheme_id, []).append(snapshot)
    if draft_version_id is not None:
        # A draft replaces a published version starting at the same moment.
        for scheme_id, items in by_scheme.items():
            draft = next((v for v in items if v.id == draft_version_id), None)
            if draft is not None:
                by_scheme[scheme_id] = [
                    v for v in items if v.id == draft.id or v.effective_from != draft.effective_from
                ]
    return by_scheme


async def load_network(
    session: AsyncSession, client_ids: Iterable[int] | None = None, *, draft_version_id: int | None = None
) -> Network:
    from ib.hierarchy import load_partner_edges

    partners = {
        pid: (client, aware(since))
        for pid, client, since in await session.execute(select(Partner.id, Partner.client_id, Partner.since))
    }
    terms: dict[int, list[Terms]] = {}
    for pid, start, scheme_id, rank in await session.execute(
        select(
            PartnerTerms.partner_id,
            PartnerTerms.effective_from,
            PartnerTerms.scheme_id,
            PartnerTerms.rank_code,
        )
    ):
        terms.setdefault(pid, []).append(Terms(aware(start), scheme_id, rank))
    allocations: dict[tuple[int, int, str], list[tuple[object, int]]] = {}
    for giver, receiver, code, start, amount in await session.execute(
        select(
            Allocation.giver_id,
            Allocation.receiver_id,
            Allocation.rule_code,
            Allocation.effective_from,
            Allocation.amount_per_lot,
        )
    ):
        allocations.setdefault((giver, receiver, code), []).append((aware(start), amount))
    links: dict[int, list[Span]] = {}
    statement = select(
        ClientLink.client_id, ClientLink.valid_from, ClientLink.valid_to, ClientLink.partner_id
    )
    if client_ids is None:
        rows = list(await session.execute(statement))
    else:
        rows = []
        for condition in among(session, ClientLink.client_id, sorted(set(client_ids))):
            rows.extend(await session.execute(statement.where(condition)))
    for client_id, link_start, link_end, partner_id in rows:
        links.setdefault(client_id, []).append(Span(aware(link_start), aware_or_none(link_end), partner_id))
    ranks = {code: position for code, position in await session.execute(select(Rank.code, Rank.position))}
    return Network(
        partners=partners,
        client_links=links,
        partner_edges=await load_partner_edges(session),
        terms=terms,
        versions=await load_versions(session, draft_version_id=draft_version_id),
        allocations=allocations,  # type: ignore[arg-type]
        rank_positions=ranks,
    )
