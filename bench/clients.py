"""Client list and search benchmark on PostgreSQL (DESIGN.md §12).

In one run, on a database it creates, migrates and drops:

* 100,000 clients (``--quick``: 20,000) with a KYC profile each (one in ten with an older
  version; surnames from about 14,000, a few common ones shared by 3 % of the clients each, which
  the broad search looks for), KYC cases for 70 %, a trading account for 60 %, a credited deposit
  for 40 % (and open ones for some more), 200 IBs with a referral code each and 30 % of the
  clients attributed to them, ten tags on 20 % of the clients, half of the clients assigned to
  20 staff members;
* the median and p95 of one list page as the back office asks for it, through
  ``crm.client_search.search_clients`` (the count of matches plus the page of 50 with its
  columns): no filter, each kind of search key, the filters, a combination, and a limited staff
  member's scoped list;
* the baseline, measured in the same run on the same connection: a primary-key look-up of one
  user row, so the ratio says how many such look-ups one list page costs. A bare ``count(*)`` of
  the users table is reported too, for scale.

Prints a table, then one JSON object per figure per line. ``--quick`` finishes in under a minute.

    python bench/clients.py [--quick] [--admin-url postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    DEFAULT_ADMIN_URL,
    Figure,
    bulk,
    load_average,
    print_json_lines,
    scratch_database,
    trading_product,
)
from cashier.models import Deposit
from core.db import Database, migrate
from core.identity.models import CLIENT, STAFF, User
from crm.client_search import ClientFilter, parse_filter, search_clients
from crm.models import ClientOwner, ClientTag, StaffScope, Tag
from crm.scope import data_scope_of
from ib.models import ClientLink, Partner, ReferralLink
from kyc.models import KycCase, KycProfileVersion
from mt_bridge.models import TradingAccount

BENCH = "clients"
FIRST = (
    "Anna Ben Chen Dmitri Elena Farah Georg Hana Ivan Jia Karim Lena Marco Nadia Omar Petra Quinn Rosa"
    " Sven Tariq"
)
LAST = (
    "Schmidt Muller Wang Li Zhang Novak Rossi Garcia Kim Nguyen Silva Kowalski Jensen Dubois Haddad Tanaka"
    " Ivanova Okafor Lindqvist Moreau Petrov Costa Yilmaz Sato Fischer Weber Meyer Wagner Becker Hoffmann"
)
COUNTRIES = ("DE", "GB", "FR", "ES", "IT", "CN", "AE", "MY", "TH", "ZA", "BR", "NG")
STATUSES = ("draft", "submitted", "approved", "approved", "approved", "rejected")
RISKS = ("low", "low", "low", "medium", "high")


@dataclass(frozen=True)
class Sizes:
    clients: int
    partners: int
    staff: int
    repeats: int


FULL = Sizes(clients=100_000, partners=200, staff=20, repeats=25)
QUICK = Sizes(clients=20_000, partners=100, staff=20, repeats=10)


SYLLABLES = ["ka", "ri", "to", "mel", "san", "dor", "vi", "lu", "ben", "ha", "zo", "ne"]


def _name(i: int) -> tuple[str, str]:
    """A first name from 20 and a surname: a common one for a third of the clients (a broad
    search finds 3 % of them), a made-up rarer one for the others."""
    first, last = FIRST.split(), LAST.split()
    if i % 3 == 0:
        return first[i % len(first)], last[(i * 7919) % len(last)]
    k = (i * 7919) % (len(SYLLABLES) ** 4)
    parts = [SYLLABLES[(k // len(SYLLABLES) ** n) % len(SYLLABLES)] for n in range(4)]
    return first[i % len(first)], "".join(parts).capitalize() + last[k % len(last)][:3].lower()


async def seed(db: Database, sizes: Sizes) -> dict[str, Any]:
    """The client base; returns the keys the searches look for."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    n = sizes.clients
    users, profiles, cases, accounts, deposits, links, tagged, owners = [], [], [], [], [], [], [], []
    for i in range(1, n + 1):
        first, last = _name(i)
        users.append(
            {
                "id": i,
                "kind": CLIENT,
                "email": f"{first.lower()}.{last.lower()}{i}@mail{i % 20}.example",
                "display_name": f"{first} {last}",
                "password_hash": "x",
                "created_at": now - timedelta(minutes=n - i),
            }
        )
        country = COUNTRIES[i % len(COUNTRIES)]
        base = {
            "client_id": i,
            "first_name": first,
            "birth_date": date(1970 + i % 30, 1 + i % 12, 1 + i % 28),
            "nationality": country,
            "address_line": f"{i} Long Street",
            "city": "City",
            "postal_code": f"{10000 + i % 90000}",
            "tax_residence": country,
            "tin": f"T{i}",
            "employment_status": "employed",
            "source_of_funds": "salary",
            "is_pep": False,
            "is_sanctioned": False,
            "created_by": i,
        }
        phone = f"+{30 + i % 60}{rng.randrange(10**9, 10**10)}"
        if i % 10 == 0:
            profiles.append(
                {
                    **base,
                    "version": 1,
                    "last_name": "Former",
                    "country_of_residence": "AT",
                    "phone": "+4300000",
                }
            )
            profiles.append(
                {**base, "version": 2, "last_name": last, "country_of_residence": country, "phone": phone}
            )
        else:
            profiles.append(
                {**base, "version": 1, "last_name": last, "country_of_residence": country, "phone": phone}
            )
        if i % 10 < 7:
            cases.append(
                {
                    "client_id": i,
                    "status": STATUSES[i % len(STATUSES)],
                    "level": "full" if STATUSES[i % len(STATUSES)] == "approved" else "none",
                    "risk_level": RISKS[i % len(RISKS)],
                    "risk_reasons": [],
                }
            )
        if i % 5 < 3:
            accounts.append(
                {
                    "client_id": i,
                    "login": 1_000_000 + i,
                    "group_name": "real",
                    "currency": "USD",
                    "leverage": 100,
                    "status": "active",
                    "balance": rng.randrange(0, 10**7),
                }
            )
        if i % 5 < 2:
            deposits.append(
                {
                    "client_id": i,
                    "method": "psp",
                    "currency": "USD",
                    "amount": 10_000,
                    "credited_amount": 10_000,
                    "status": "credited",
                    "idempotency_key": f"d{i}",
                }
            )
        elif i % 13 == 0:
            deposits.append(
                {
                    "client_id": i,
                    "method": "wire",
                    "currency": "USD",
                    "amount": 5_000,
                    "status": "awaiting_review",
                    "idempotency_key": f"d{i}",
                }
            )
        if i > sizes.partners and i % 10 < 3:
            links.append(
                {
                    "client_id": i,
                    "partner_id": 1 + i % sizes.partners,
                    "valid_from": now - timedelta(days=30),
                    "source": "link",
                    "created_by": "bench",
                }
            )
        if i % 5 == 0:
            tagged.append({"client_id": i, "tag_id": 1 + (i // 5) % 10})
        if i % 2 == 0:
            owners.append({"client_id": i, "owner_id": n + 1 + i % sizes.staff})
    staff = [
        {
            "id": n + 1 + s,
            "kind": STAFF,
            "email": f"staff{s}@bench.test",
            "password_hash": "x",
            "created_at": now,
        }
        for s in range(sizes.staff)
    ]
    await bulk(db, User, users + staff)
    async with db.engine.connect() as connection:
        await connection.exec_driver_sql(f"SELECT setval('users_id_seq', {n + sizes.staff + 1})")
        await connection.commit()
    async with db.transaction() as session:
        server_id, type_id = await trading_product(
            session, server="live", group="real", first_login=1_000_000, leverages=[100]
        )
        session.add_all(Tag(id=t, name=f"tag {t}", colour="#000000") for t in range(1, 11))
        session.add(StaffScope(user_id=n + 1, kind="own", team=""))
    for account in accounts:
        account.update(server_id=server_id, account_type_id=type_id)
    await bulk(db, KycProfileVersion, profiles)
    await bulk(db, KycCase, cases)
    await bulk(db, TradingAccount, accounts)
    await bulk(db, Deposit, deposits)
    await bulk(
        db,
        Partner,
        [{"id": p, "client_id": p, "since": now - timedelta(days=60)} for p in range(1, sizes.partners + 1)],
    )
    await bulk(
        db, ReferralLink, [{"partner_id": p, "code": f"IB{p:05d}X"} for p in range(1, sizes.partners + 1)]
    )
    await bulk(db, ClientLink, links)
    await bulk(db, ClientTag, tagged)
    await bulk(db, ClientOwner, owners)
    async with db.engine.connect() as connection:  # what autovacuum would do after such a load
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql("VACUUM ANALYZE")  # also merges the GIN pending lists
    probe = n // 2 + 5
    first, last = _name(probe)
    return {
        "probe": probe,
        "last_name": last.lower(),
        "email": f"{first.lower()}.{last.lower()}{probe}@",
        "phone": next(p["phone"] for p in profiles if p["client_id"] == probe)[:9],
        "login": str(1_000_000 + (n // 2 // 5 * 5)),
        "limited_staff": n + 1,
        "admin_staff": n + 2,
    }


async def timed(repeats: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    await call()  # warm the plan and the cache
    taken = []
    for _ in range(repeats):
        start = time.perf_counter()
        await call()
        taken.append((time.perf_counter() - start) * 1000)
    return taken


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def measure(url: str, sizes: Sizes) -> tuple[list[Figure], dict[str, int]]:
    db = Database.from_url(url)
    try:
        keys = await seed(db, sizes)
        searches: list[tuple[str, dict[str, str], int]] = [
            ("list_all", {}, keys["admin_staff"]),
            ("search_last_name", {"q": keys["last_name"]}, keys["admin_staff"]),
            ("search_broad_last_name", {"q": "wagner"}, keys["admin_staff"]),
            ("search_email", {"q": keys["email"]}, keys["admin_staff"]),
            ("search_phone", {"q": keys["phone"]}, keys["admin_staff"]),
            ("search_login", {"q": keys["login"]}, keys["admin_staff"]),
            ("search_client_id", {"q": str(keys["probe"])}, keys["admin_staff"]),
            ("search_ib_code", {"q": "IB00042X"}, keys["admin_staff"]),
            ("search_two_words", {"q": "anna schmidt"}, keys["admin_staff"]),
            ("filter_kyc_funded", {"kyc": "approved", "funded": "yes"}, keys["admin_staff"]),
            ("filter_not_funded", {"funded": "no"}, keys["admin_staff"]),
            ("filter_country_risk", {"country": "DE", "risk": "high"}, keys["admin_staff"]),
            ("filter_tag", {"tag": "3"}, keys["admin_staff"]),
            ("filter_ib", {"ib": "42"}, keys["admin_staff"]),
            ("filter_owner_unassigned", {"owner": "none", "sort": "oldest"}, keys["admin_staff"]),
            (
                "combined",
                {"q": "wang", "kyc": "approved", "country": "CN", "funded": "yes"},
                keys["admin_staff"],
            ),
            ("scoped_own_list", {}, keys["limited_staff"]),
            ("scoped_own_search", {"q": "li"}, keys["limited_staff"]),
        ]
        figures: list[Figure] = []
        matches: dict[str, int] = {}
        async with db.session() as session:
            probe = keys["probe"]

            async def pk_lookup() -> None:
                await session.scalar(select(User.email).where(User.id == probe))

            baseline = statistics.median(await timed(sizes.repeats * 4, pk_lookup))

            async def bare_count() -> None:
                await session.scalar(select(func.count()).select_from(User))

            counted = await timed(sizes.repeats, bare_count)
            figures.append(
                Figure(
                    "bare_count_p50_ms", statistics.median(counted), "ms", "pk_lookup_p50_ms", baseline, False
                )
            )
            for name, params, staff_id in searches:
                scope = await data_scope_of(session, staff_id)
                filters: ClientFilter = parse_filter(params)

                async def page(scope: Any = scope, filters: ClientFilter = filters) -> None:
                    await search_clients(session, scope, filters)

                taken = await timed(sizes.repeats, page)
                matches[name] = (await search_clients(session, scope, filters)).total
                figures.append(
                    Figure(
                        f"{name}_p50_ms", statistics.median(taken), "ms", "pk_lookup_p50_ms", baseline, False
                    )
                )
                figures.append(
                    Figure(f"{name}_p95_ms", p95(taken), "ms", "pk_lookup_p50_ms", baseline, False)
                )
        return figures, matches
    finally:
        await db.dispose()


async def run(admin_url: str, sizes: Sizes) -> tuple[list[Figure], dict[str, int]]:
    async with scratch_database(admin_url, f"bd_bench_clients_{os.getpid()}") as (_dsn, url):
        await asyncio.to_thread(migrate.upgrade, url)
        return await measure(url, sizes)


def report(figures: list[Figure], matches: dict[str, int], sizes: Sizes, load: Callable[[], str]) -> None:
    print(
        f"\nClient list benchmark: {sizes.clients:,} clients, {sizes.partners} IBs, {sizes.staff} staff;"
        f" {sizes.repeats} pages per search (count + 50 rows with their columns); load average {load()}"
    )
    print(f"{'metric':<36}{'value':>9} {'unit':<5}{'ratio':>8} {'matches':>9}  baseline")
    for figure in figures:
        name = figure.metric.rsplit("_", 2)[0]
        found = f"{matches[name]:,}" if name in matches else ""
        print(
            f"{figure.metric:<36}{figure.value:>9,.2f} {figure.unit:<5}{figure.ratio:>8.1f} {found:>9}  "
            f"{figure.baseline} = {figure.baseline_value:,.3f}"
        )
    print()
    print_json_lines(BENCH, figures, value_digits=3, ratio_digits=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="20,000 clients; finishes in under a minute")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL))
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    figures, matches = asyncio.run(run(args.admin_url, sizes))
    report(figures, matches, sizes, load_average)


if __name__ == "__main__":
    main()
