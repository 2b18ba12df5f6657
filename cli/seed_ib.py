"""Demo IB network: a published scheme, three ranks and a three-level tree of partners with a
referral link each; the KYC demo clients are referred by the lowest IB, so their trades earn
commissions up the tree once the bridge syncs them.

Idempotent like every seeder: a second run finds the demo scheme and only prints the logins.
"""

from __future__ import annotations

from sqlalchemy import select

from cli.seed_identity import DEMO_CLIENT_PASSWORD, DEMO_DOMAIN, demo_client
from cli.seed_kyc import STAGES
from cli.seed_trading import FOREX_GROUP
from core import clock
from core.db import Database
from core.identity.models import CLIENT, User
from core.identity.passwords import hash_password
from core.settings import Settings
from ib import attribution, partners, schemes
from ib.hierarchy import move_partner
from ib.models import Scheme

DEMO_SCHEME = "Demo standard"
STAFF = "system:demo"
RANKS = (("bronze", 1), ("silver", 2), ("gold", 3))
# The symbol group is named as the trading products name it (rules match the group's name exactly).
RULES = (
    {"code": "fx-fixed", "kind": "fixed", "symbol_group": FOREX_GROUP, "params": {"amount_per_lot": 500}},
    {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 200, 100]}},
    {"code": "override", "kind": "overriding", "params": {"percent": "10"}},
)
IBS = (
    # (local part, display name, rank, parent's local part, referral code)
    ("ib-master", "Demo Master IB", "gold", None, "DEMOMASTER"),
    ("ib-agent", "Demo Agent IB", "silver", "ib-master", "DEMOAGENT"),
    ("ib-sub", "Demo Sub-IB", "bronze", "ib-agent", "DEMOSUB"),
)


async def _demo_client(database: Database, settings: Settings, local: str, name: str) -> int:
    email = f"{local}@{DEMO_DOMAIN}"
    async with database.transaction() as session:
        user = await session.scalar(select(User).where(User.kind == CLIENT, User.email == email))
        if user is None:
            user = demo_client(email, name, await hash_password(settings, DEMO_CLIENT_PASSWORD))
            session.add(user)
            await session.flush()
        return user.id


def _lines() -> list[str]:
    lines = [f"IB portal partners (password {DEMO_CLIENT_PASSWORD}; three levels, referral codes):"]
    lines += [f"  {local + '@' + DEMO_DOMAIN:<40} {rank:<7} code {code}" for local, _, rank, _, code in IBS]
    return lines


async def seed_ib(database: Database, settings: Settings) -> list[str]:
    async with database.session() as session:
        if await session.scalar(select(Scheme.id).where(Scheme.name == DEMO_SCHEME)) is not None:
            return _lines()
    client_ids = {local: await _demo_client(database, settings, local, name) for local, name, *_ in IBS}
    referred = [await _demo_client(database, settings, local, f"Demo {first}") for local, first, _ in STAGES]
    now = clock.utcnow()
    async with database.transaction() as session:
        for code, position in RANKS:
            await schemes.create_rank(session, code, name=code.title(), position=position)
        scheme = await schemes.create_scheme(session, DEMO_SCHEME, currency="USD", actor=STAFF, now=now)
        version = await schemes.add_version(
            session, scheme.id, effective_from=now, rules=list(RULES), actor=STAFF, now=now
        )
        await schemes.publish_version(session, version.id, actor=STAFF, now=now)
        partner_ids: dict[str, int] = {}
        for local, _, rank, parent, code in IBS:
            partner = await partners.make_partner(
                session, client_ids[local], scheme_id=scheme.id, rank_code=rank, actor=STAFF, now=now
            )
            partner_ids[local] = partner.id
            if parent is not None:
                await move_partner(
                    session,
                    partner.id,
                    partner_ids[parent],
                    effective_from=now,
                    actor=STAFF,
                    now=now,
                    reason="demo network",
                )
            await attribution.create_link(
                session, partner.id, campaign="demo", actor=STAFF, now=now, code=code
            )
        for client_id in referred:
            await attribution.register_through_link(session, client_id, "DEMOSUB", now=now)
    return _lines()
