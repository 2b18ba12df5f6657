"""What the back office's IB pages list: applications, partners, schemes with their versions and
rules, ranks with the per-lot increments schemes give them, held payouts and recompute runs.

Read-only queries, kept here so the staff app's controllers stay thin and know no table layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ib.models import (
    Application,
    Partner,
    Payout,
    PayoutPolicy,
    Rank,
    RecomputeRun,
    Rule,
    Scheme,
    SchemeVersion,
)

LIST_LIMIT = 500


@dataclass
class VersionView:
    """One scheme version and its rules, in code order."""

    version: SchemeVersion
    rules: list[Rule] = field(default_factory=list)


@dataclass
class SchemeView:
    """A scheme and its versions, newest first."""

    scheme: Scheme
    versions: list[VersionView] = field(default_factory=list)

    @property
    def latest(self) -> VersionView | None:
        return self.versions[0] if self.versions else None


async def applications(session: AsyncSession, status: str = "pending") -> Sequence[Application]:
    return (
        await session.scalars(
            select(Application)
            .where(Application.status == status)
            .order_by(Application.submitted_at.desc(), Application.id.desc())
            .limit(LIST_LIMIT)
        )
    ).all()


async def partners(session: AsyncSession) -> Sequence[Partner]:
    return (await session.scalars(select(Partner).order_by(Partner.id))).all()


async def schemes(session: AsyncSession) -> list[SchemeView]:
    """Every scheme with all its versions and rules (a handful of schemes, a few versions each)."""
    views = {s.id: SchemeView(s) for s in await session.scalars(select(Scheme).order_by(Scheme.name))}
    versions: dict[int, VersionView] = {}
    for version in await session.scalars(
        select(SchemeVersion).order_by(SchemeVersion.scheme_id, SchemeVersion.version.desc())
    ):
        versions[version.id] = VersionView(version)
        views[version.scheme_id].versions.append(versions[version.id])
    for rule in await session.scalars(select(Rule).order_by(Rule.scheme_version_id, Rule.code)):
        versions[rule.scheme_version_id].rules.append(rule)
    return list(views.values())


async def scheme_view(session: AsyncSession, scheme_id: int) -> SchemeView | None:
    return next((view for view in await schemes(session) if view.scheme.id == scheme_id), None)


async def ranks(session: AsyncSession) -> Sequence[Rank]:
    return (await session.scalars(select(Rank).order_by(Rank.position))).all()


def rank_increments(views: Sequence[SchemeView]) -> dict[str, dict[str, object]]:
    """Per rank code, per scheme name: the per-lot increment of the newest published version's
    rank-differential rules (rule code → increment), so staff see what a rank is worth."""
    out: dict[str, dict[str, object]] = {}
    for view in views:
        published = next((v for v in view.versions if v.version.status == "published"), None)
        if published is None:
            continue
        for rule in published.rules:
            if rule.kind != "rank_differential":
                continue
            for rank, amount in dict(rule.params.get("increments_per_lot") or {}).items():
                out.setdefault(rank, {})[f"{view.scheme.name} · {rule.code}"] = amount
    return out


async def draft_versions(session: AsyncSession) -> list[tuple[SchemeVersion, Scheme]]:
    rows = await session.execute(
        select(SchemeVersion, Scheme)
        .join(Scheme, Scheme.id == SchemeVersion.scheme_id)
        .where(SchemeVersion.status == "draft")
        .order_by(Scheme.name, SchemeVersion.version)
    )
    return [(version, scheme) for version, scheme in rows.all()]


async def payouts(session: AsyncSession, status: str = "held") -> Sequence[Payout]:
    return (
        await session.scalars(
            select(Payout).where(Payout.status == status).order_by(Payout.id.desc()).limit(LIST_LIMIT)
        )
    ).all()


async def payout_policies(session: AsyncSession) -> Sequence[PayoutPolicy]:
    return (await session.scalars(select(PayoutPolicy).order_by(PayoutPolicy.partner_id))).all()


async def recompute_runs(session: AsyncSession, limit: int = 20) -> Sequence[RecomputeRun]:
    return (await session.scalars(select(RecomputeRun).order_by(RecomputeRun.id.desc()).limit(limit))).all()


async def client_of_partner(session: AsyncSession, partner_ids: Sequence[int]) -> dict[int, int]:
    """Partner id → the client id behind it, to show both on a page."""
    if not partner_ids:
        return {}
    rows = await session.execute(
        select(Partner.id, Partner.client_id).where(Partner.id.in_(set(partner_ids)))
    )
    return {int(pid): int(client) for pid, client in rows.all()}
