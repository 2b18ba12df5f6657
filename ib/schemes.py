"""Schemes, their versions and rules, ranks, and sub-IB allocations.

A scheme's rules never change in place: a change is a new version with its own effective date.
A version is a draft until published; the engine reads published versions only, while a dry-run
recompute can try a draft on a past period and show the diff before anyone publishes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ib import audit
from ib.errors import AllocationError, SchemeError
from ib.models import Allocation, PartnerEdge, PartnerTerms, Rank, Rule, Scheme, SchemeVersion
from ib.rounding import as_decimal, as_minor
from ib.rules import RULE_KINDS
from ib.rules.base import Conditions
from ib.timeutil import aware

REQUIRED_PARAMS: Mapping[str, tuple[str, ...]] = {
    "fixed": ("amount_per_lot",),
    "per_level": ("amounts_per_lot",),
    "rank_differential": ("increments_per_lot",),
    "spread_share": ("spread_points", "percent"),
    "platform_commission_share": ("percent",),
    "profit_share": ("percent",),
    "overriding": ("percent",),
    "cpa": ("amount", "min_first_deposit", "min_lots"),
}


async def create_rank(session: AsyncSession, code: str, *, name: str, position: int) -> Rank:
    rank = Rank(code=code, name=name, position=position)
    session.add(rank)
    await session.flush()
    return rank


async def create_scheme(
    session: AsyncSession, name: str, *, currency: str, actor: str, now: datetime
) -> Scheme:
    scheme = Scheme(name=name, currency=currency, created_at=now)
    session.add(scheme)
    await session.flush()
    audit.record(session, actor=actor, action="ib.scheme_created", subject=f"scheme:{scheme.id}", now=now)
    return scheme


def _percent(value: object, name: str) -> None:
    if not 0 <= as_decimal(value, name) <= 100:
        raise ValueError(f"{name} must be between 0 and 100")


def _minor_list(value: object, name: str) -> None:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{name} must be a list of amounts, level 1 first")
    for index, amount in enumerate(value, start=1):
        as_minor(amount, f"{name} level {index}")


def _minor_by_rank(value: object, name: str) -> None:
    if not isinstance(value, dict) or not value:
        raise ValueError(f"{name} must map rank codes to amounts")
    for rank, amount in value.items():
        as_minor(amount, f"{name} {rank}")


def _decimal(value: object, name: str) -> None:
    if as_decimal(value, name) < 0:
        raise ValueError(f"{name} can't be negative")


def _basis(value: object, name: str) -> None:
    if value not in ("profit", "loss"):
        raise ValueError(f"{name} must be profit or loss")


PARAM_CHECKS: Mapping[str, Any] = {
    "amount_per_lot": as_minor,
    "amounts_per_lot": _minor_list,
    "increments_per_lot": _minor_by_rank,
    "spread_points": _decimal,
    "quote_to_account": _decimal,
    "percent": _percent,
    "amount": as_minor,
    "min_first_deposit": as_minor,
    "min_lots": _decimal,
    "basis": _basis,
}
"""How each known parameter is checked when a version is added, so a typo is refused with its
name before anything is written rather than failing later inside the engine."""


def validate_rule(raw: Mapping[str, Any]) -> None:
    kind = raw.get("kind")
    code = raw.get("code")
    if not isinstance(code, str) or not code:
        raise SchemeError("every rule needs a code")
    if kind not in RULE_KINDS:
        raise SchemeError(f"rule {code}: unknown kind {kind!r}")
    params = raw.get("params") or {}
    missing = [name for name in REQUIRED_PARAMS[str(kind)] if name not in params]
    if missing:
        raise SchemeError(f"rule {code}: missing {', '.join(missing)}")
    try:
        Conditions.parse(raw.get("conditions"))
    except ValueError as exc:
        raise SchemeError(f"rule {code}: {exc}") from exc
    for value in params.values():
        if isinstance(value, float):
            raise SchemeError(f"rule {code}: write decimals as strings, never floats")
    for name, value in params.items():
        check = PARAM_CHECKS.get(name)
        try:
            if check is not None:
                check(value, name)
        except ValueError as exc:
            raise SchemeError(f"rule {code}: {exc}") from exc


async def add_version(
    session: AsyncSession,
    scheme_id: int,
    *,
    effective_from: datetime,
    rules: Sequence[Mapping[str, Any]],
    actor: str,
    now: datetime,
) -> SchemeVersion:
    """A new draft version of a scheme with its full rule set."""
    if await session.get(Scheme, scheme_id) is None:
        raise SchemeError(f"no scheme {scheme_id}")
    codes = [raw.get("code") for raw in rules]
    if len(set(codes)) != len(codes):
        raise SchemeError("rule codes must be unique within a version")
    for raw in rules:
        validate_rule(raw)
    number = (
        await session.scalar(
            select(func.max(SchemeVersion.version)).where(SchemeVersion.scheme_id == scheme_id)
        )
    ) or 0
    version = SchemeVersion(
        scheme_id=scheme_id,
        version=number + 1,
        effective_from=effective_from,
        status="draft",
        created_by=actor,
        created_at=now,
    )
    session.add(version)
    await session.flush()
    for raw in rules:
        session.add(
            Rule(
                scheme_version_id=version.id,
                code=raw["code"],
                kind=raw["kind"],
                account_type=raw.get("account_type"),
                symbol_group=raw.get("symbol_group"),
                symbol=raw.get("symbol"),
                params=dict(raw.get("params") or {}),
                conditions=Conditions.parse(raw.get("conditions")).as_json(),
            )
        )
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="ib.scheme_version_added",
        subject=f"scheme:{scheme_id}",
        now=now,
        after={
            "version_id": version.id,
            "version": version.version,
            "effective_from": effective_from.isoformat(),
            "rules": [dict(raw) for raw in rules],
        },
    )
    return version


async def publish_version(
    session: AsyncSession, version_id: int, *, actor: str, now: datetime
) -> SchemeVersion:
    """Make a draft version what the engine uses from its effective date on.

    A published version that starts at the same moment is superseded by it. Lines already
    published keep their amounts until a recompute of their period is published.
    """
    version = await session.get(SchemeVersion, version_id, with_for_update=True)
    if version is None:
        raise SchemeError(f"no scheme version {version_id}")
    if version.status != "draft":
        raise SchemeError(f"scheme version {version_id} is already {version.status}")
    superseded = (
        await session.scalars(
            select(SchemeVersion).where(
                SchemeVersion.scheme_id == version.scheme_id,
                SchemeVersion.status == "published",
                SchemeVersion.effective_from == version.effective_from,
            )
        )
    ).all()
    for old in superseded:
        # A correction of a version from the same moment: the old one stays, for the provenance of
        # the lines it produced, but the engine no longer reads it.
        old.status = "superseded"
    version.status = "published"
    version.published_at = now
    audit.record(
        session,
        actor=actor,
        action="ib.scheme_version_published",
        subject=f"scheme:{version.scheme_id}",
        now=now,
        after={"version_id": version.id, "superseded": [old.id for old in superseded]},
    )
    await session.flush()
    return version


async def rule_rate_for(
    session: AsyncSession, partner_id: int, rule_code: str, moment: datetime
) -> int | None:
    """The scheme's per-lot amount of a ``fixed`` rule for a partner's scheme at ``moment``."""
    terms = await session.scalar(
        select(PartnerTerms)
        .where(PartnerTerms.partner_id == partner_id, PartnerTerms.effective_from <= moment)
        .order_by(PartnerTerms.effective_from.desc())
        .limit(1)
    )
    if terms is None:
        return None
    version_id = await session.scalar(
        select(SchemeVersion.id)
        .where(
            SchemeVersion.scheme_id == terms.scheme_id,
            SchemeVersion.status == "published",
            SchemeVersion.effective_from <= moment,
        )
        .order_by(SchemeVersion.effective_from.desc())
        .limit(1)
    )
    if version_id is None:
        return None
    rule = await session.scalar(
        select(Rule).where(Rule.scheme_version_id == version_id, Rule.code == rule_code, Rule.kind == "fixed")
    )
    if rule is None:
        return None
    amount = rule.params.get("amount_per_lot")
    return amount if isinstance(amount, int) else None


async def _allocation_at(
    session: AsyncSession, giver: int, receiver: int, code: str, moment: datetime
) -> int | None:
    return await session.scalar(
        select(Allocation.amount_per_lot)
        .where(
            Allocation.giver_id == giver,
            Allocation.receiver_id == receiver,
            Allocation.rule_code == code,
            Allocation.effective_from <= moment,
        )
        .order_by(Allocation.effective_from.desc())
        .limit(1)
    )


async def own_rate(session: AsyncSession, partner_id: int, rule_code: str, moment: datetime) -> int | None:
    """What a partner holds per lot under a ``fixed`` rule: what its parent allocated to it, or else
    its scheme's rate."""
    parent = await session.scalar(
        select(PartnerEdge.parent_id).where(
            PartnerEdge.partner_id == partner_id,
            PartnerEdge.valid_from <= moment,
            (PartnerEdge.valid_to.is_(None)) | (PartnerEdge.valid_to > moment),
        )
    )
    if parent is not None:
        allocated = await _allocation_at(session, parent, partner_id, rule_code, moment)
        if allocated is not None:
            return allocated
    return await rule_rate_for(session, partner_id, rule_code, moment)


async def set_allocation(
    session: AsyncSession,
    giver_id: int,
    receiver_id: int,
    *,
    rule_code: str,
    amount_per_lot: int,
    effective_from: datetime,
    actor: str,
    now: datetime,
) -> Allocation:
    """An IB passes ``amount_per_lot`` of its own rate under ``rule_code`` to a direct sub-IB.

    Refused when the receiver is not the giver's direct sub-IB at that date, or when the amount is
    more than the giver's own rate (so nobody can give away more than it has).
    """
    moment = aware(effective_from)
    if amount_per_lot < 0:
        raise AllocationError("an allocation can't be negative")
    parent = await session.scalar(
        select(PartnerEdge.parent_id).where(
            PartnerEdge.partner_id == receiver_id,
            PartnerEdge.valid_from <= moment,
            (PartnerEdge.valid_to.is_(None)) | (PartnerEdge.valid_to > moment),
        )
    )
    if parent != giver_id:
        raise AllocationError(f"IB {receiver_id} is not a direct sub-IB of IB {giver_id} at that date")
    available = await own_rate(session, giver_id, rule_code, moment)
    if available is None:
        raise AllocationError(f"IB {giver_id} has no per-lot rate under rule {rule_code!r}")
    if amount_per_lot > available:
        raise AllocationError(
            f"IB {giver_id} holds {available} per lot under {rule_code!r}; can't give {amount_per_lot}"
        )
    allocation = Allocation(
        giver_id=giver_id,
        receiver_id=receiver_id,
        rule_code=rule_code,
        amount_per_lot=amount_per_lot,
        effective_from=moment,
        created_by=actor,
        created_at=now,
    )
    session.add(allocation)
    audit.record(
        session,
        actor=actor,
        action="ib.allocation_set",
        subject=f"partner:{receiver_id}",
        now=now,
        after={
            "giver_id": giver_id,
            "rule_code": rule_code,
            "amount_per_lot": amount_per_lot,
            "effective_from": moment.isoformat(),
        },
    )
    await session.flush()
    return allocation
