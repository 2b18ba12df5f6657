"""Each report's figures against figures worked out in Python from the seeded specifications."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from statistics import median_low
from typing import Any

import pytest
from sqlalchemy import func, select

from core.clock import utcnow
from core.db import Database
from ib.engine import process_deals
from ledger.models import Account
from reports.catalogue import REPORTS, run_report
from reports.table import Report
from reports.window import default_window
from tests.integration.ib.world import SERVER, build_world, deal
from tests.integration.reports import seed as s

pytestmark = pytest.mark.asyncio


async def report(db: Database, key: str) -> Report:
    async with db.session() as session:
        return await run_report(session, key, default_window(s.today()), utcnow())


def rows(report: Report, table: str) -> list[dict[str, Any]]:
    found = report.table(table)
    assert found is not None
    return found.rows


async def test_funding_by_day_method_and_country(db: Database, tmp_path: Path) -> None:
    seeded = await s.seed(db, tmp_path)
    countries = {name: (spec[1][-1] if spec[1] else "") for name, spec in s.CLIENTS.items()}
    expected: dict[str, dict[tuple[str, str], dict[str, int]]] = {
        by: defaultdict(lambda: {"deposits": 0, "deposited": 0, "withdrawals": 0, "withdrawn": 0})
        for by in ("day", "method", "country")
    }

    def add(
        name: str, moment: Any, method: str, currency: str, count_key: str, amount_key: str, amount: int
    ) -> None:
        keys = {"day": moment.date().isoformat(), "method": method, "country": countries[name]}
        for by, key in keys.items():
            expected[by][(key, currency)][count_key] += 1
            expected[by][(key, currency)][amount_key] += amount

    for name, days, method, psp, currency, amount, credited, status in s.DEPOSITS:
        if status == "credited" and s.in_window(s.at(days)):
            add(
                name,
                s.at(days),
                s.method_of(method, psp),
                currency,
                "deposits",
                "deposited",
                credited or amount,
            )
    for name, amount in s.WIRED_TODAY:
        add(name, utcnow(), "wire", "USD", "deposits", "deposited", amount)
    for name, days, destination, psp, currency, amount, status in s.WITHDRAWALS:
        if status == "paid" and s.in_window(s.at(days)):
            add(name, s.at(days), s.method_of(destination, psp), currency, "withdrawals", "withdrawn", amount)

    funding = await report(db, "funding")
    for by, table in (("method", "by_method"), ("country", "by_country")):
        got = {
            (row[by], row["currency"]): {
                k: row[k] for k in ("deposits", "deposited", "withdrawals", "withdrawn", "net")
            }
            for row in rows(funding, table)
        }
        want = {key: {**v, "net": v["deposited"] - v["withdrawn"]} for key, v in expected[by].items()}
        assert got == want, by
    by_day = {(row["day"], row["currency"]): row for row in rows(funding, "by_day")}
    for (day, currency), figures in expected["day"].items():
        assert by_day[(day, currency)]["deposited"] == figures["deposited"]
        assert by_day[(day, currency)]["withdrawn"] == figures["withdrawn"]
        assert by_day[(day, currency)]["net"] == figures["deposited"] - figures["withdrawn"]
    quiet = [row for key, row in by_day.items() if key not in expected["day"]]
    assert quiet
    assert all(row["net"] == 0 and row["deposits"] == 0 for row in quiet)
    # every day of the range is listed, per currency seen
    assert len(by_day) == 30 * len({currency for _, currency in expected["day"]})
    # the newest profile decides the country: c1 moved from FR to GB
    assert "FR" not in {row["country"] for row in rows(funding, "by_country")}
    assert seeded.clients


async def test_acquisition_registrations_and_funnel(db: Database, tmp_path: Path) -> None:
    await s.seed(db, tmp_path)
    cohort = [name for name, spec in s.CLIENTS.items() if s.in_window(s.at(spec[0]))]
    verified = {name for name in cohort if (case := s.CLIENTS[name][2]) and case[0] == "approved"}
    funded_anyone = {d[0] for d in s.DEPOSITS if d[7] == "credited"} | {name for name, _ in s.WIRED_TODAY}
    live_logins = {login for login, (_, demo) in s.ACCOUNTS.items() if not demo}
    traded_anyone = {
        s.ACCOUNTS[login][0]
        for _, login, _, _, _, action, deleted in s.DEALS
        if login in live_logins and action in (0, 1) and not deleted
    }
    funded = verified & funded_anyone
    traded = funded & traded_anyone
    want = {
        "registered": len(cohort),
        "verified": len(verified),
        "funded": len(funded),
        "traded": len(traded),
    }
    assert want == {"registered": 5, "verified": 3, "funded": 2, "traded": 1}  # the seed says what it tests

    acquisition = await report(db, "acquisition")
    funnel = {row["stage"]: row for row in rows(acquisition, "funnel")}
    assert {stage: row["clients"] for stage, row in funnel.items()} == want
    assert funnel["verified"]["share"] == Decimal("60.0")
    assert funnel["traded"]["share"] == Decimal("20.0")
    per_day: dict[str, int] = defaultdict(int)
    for name in cohort:
        per_day[s.at(s.CLIENTS[name][0]).date().isoformat()] += 1
    got = {
        row["day"]: row["registrations"] for row in rows(acquisition, "registrations") if row["registrations"]
    }
    assert got == dict(per_day)


async def test_trading_active_traders_and_volume_by_symbol_group(db: Database, tmp_path: Path) -> None:
    await s.seed(db, tmp_path)
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"deals": 0, "lots": Decimal(0), "traders": set()}
    )
    total = {"deals": 0, "lots": Decimal(0), "traders": set()}
    for _, login, days, symbol, lots, action, deleted in s.DEALS:
        account = s.ACCOUNTS.get(login)
        if action not in (0, 1) or deleted or not s.in_window(s.at(days)) or (account and account[1]):
            continue
        for bucket in (groups[s.SYMBOLS.get(symbol, "ungrouped")], total):
            bucket["deals"] += 1
            bucket["lots"] += Decimal(lots)
            if account:
                bucket["traders"].add(account[0])

    trading = await report(db, "trading")
    got = {row["group"]: (row["deals"], row["lots"], row["traders"]) for row in rows(trading, "by_group")}
    assert got == {name: (g["deals"], g["lots"], len(g["traders"])) for name, g in groups.items()}
    assert got["metals"] == (2, Decimal("0.4"), 2)
    [summary] = rows(trading, "summary")
    assert (summary["deals"], summary["lots"], summary["traders"]) == (
        total["deals"],
        total["lots"],
        len(total["traders"]),
    )
    by_day = {row["day"]: row for row in rows(trading, "by_day")}
    assert len(by_day) == 30
    assert sum(row["deals"] for row in by_day.values()) == total["deals"]
    assert sum((row["lots"] for row in by_day.values()), Decimal(0)) == total["lots"]


async def test_kyc_backlog_and_review_times(db: Database, tmp_path: Path) -> None:
    await s.seed(db, tmp_path)
    now = utcnow()
    waiting = {status: [] for status in ("submitted", "awaiting_second_review")}
    durations, approved, rejected = [], 0, 0
    for _name, (_, _, case) in s.CLIENTS.items():
        if case is None:
            continue
        status, submitted, decided = case
        if status in waiting:
            waiting[status].append(s.at(*submitted))
        elif decided and s.in_window(s.at(*decided)):
            durations.append(int((s.at(*decided) - s.at(*submitted)).total_seconds()))
            approved += status == "approved"
            rejected += status == "rejected"

    def hours(seconds: float) -> Decimal:
        return (Decimal(seconds) / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    kyc = await report(db, "kyc")
    backlog = {row["status"]: row for row in rows(kyc, "backlog")}
    for status, moments in waiting.items():
        assert backlog[status]["cases"] == len(moments)
        assert backlog[status]["oldest"] == min(moments)
    ages = {row["age"]: row["cases"] for row in rows(kyc, "backlog_age")}
    assert ages["1 to 3 days"] == 1
    assert ages["over 7 days"] == 1
    assert sum(ages.values()) == 2
    [reviews] = rows(kyc, "reviews")
    ordered = sorted(durations)
    assert reviews["decided"] == len(durations) == 4
    assert (reviews["approved"], reviews["rejected"]) == (approved, rejected)
    assert reviews["median_hours"] == hours(median_low(ordered)) == Decimal("2.0")
    assert reviews["p90_hours"] == hours(ordered[-1])
    average = (Decimal(sum(durations)) / len(durations) / 3600).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    assert reviews["average_hours"] == average == Decimal("7.6")
    assert now >= min(waiting["submitted"])


async def test_ib_commissions_by_ib_and_level(db: Database) -> None:
    # A (top) <- B <- C; client 100 is C's, client 101 is B's. Fixed 700 a lot to the direct IB,
    # then 200 and 100 a lot to levels 2 and 3.
    world = await build_world(
        db,
        rules=[
            {"code": "fixed", "kind": "fixed", "params": {"amount_per_lot": 700}},
            {"code": "levels", "kind": "per_level", "params": {"amounts_per_lot": [0, 200, 100]}},
        ],
        ibs=[("A", 1, None, "gold"), ("B", 2, "A", "silver"), ("C", 3, "B", "bronze")],
        clients={100: "C", 101: "B"},
    )
    recent = utcnow() - timedelta(days=2)
    old = utcnow() - timedelta(days=60)
    await process_deals(
        db,
        SERVER,
        [
            deal(1, 5100, lots="2", time=recent),
            deal(2, 5101, lots="1", time=recent),
            deal(3, 5100, lots="5", time=old),
        ],
    )
    want = {("C", 1): 1400, ("B", 2): 400, ("A", 3): 200, ("B", 1): 700, ("A", 2): 200}
    commissions = await report(db, "commissions")
    got = {
        (world.name(row["partner_id"]), row["level"]): row["amount"]
        for row in rows(commissions, "by_ib_level")
    }
    assert got == want
    by_day = [row for row in rows(commissions, "by_day") if row["amount"]]
    assert by_day == [
        {"day": recent.date().isoformat(), "currency": "USD", "lines": 5, "amount": sum(want.values())}
    ]


async def test_trial_balance_and_reconciliation(db: Database, tmp_path: Path) -> None:
    seeded = await s.seed(db, tmp_path)
    ledger = await report(db, "ledger")
    totals = {row["currency"]: row for row in rows(ledger, "trial_balance_totals")}
    assert totals["USD"]["debits"] == totals["USD"]["credits"] > 0
    assert totals["USD"]["balanced"] == "yes"
    wallets = next(
        row
        for row in rows(ledger, "trial_balance")
        if row["currency"] == "USD" and row["purpose"] == "client_wallet"
    )
    assert wallets["credits"] == sum(amount for _, amount in s.WIRED_TODAY)
    assert wallets["accounts"] == len(s.WIRED_TODAY)
    async with db.session() as session:
        accounts = int(await session.scalar(select(func.count()).select_from(Account)) or 0)
    assert sum(row["accounts"] for row in rows(ledger, "trial_balance")) == accounts
    [status] = rows(ledger, "reconciliation")
    assert (status["server"], status["compared"], status["differences"]) == (
        seeded.server_name,
        2,
        len(s.DIFFERENCES),
    )
    [difference] = rows(ledger, "differences")
    login, _currency, ledger_balance, server_balance, kind = s.DIFFERENCES[0]
    assert difference["login"] == login
    assert difference["difference"] == server_balance - ledger_balance
    assert difference["kind"] == kind
    runs = {row["day"]: row for row in rows(ledger, "runs_by_day") if row["runs"]}
    assert runs == {
        s.at(1).date().isoformat(): {"day": s.at(1).date().isoformat(), "runs": 1, "differences": 1}
    }


async def test_every_report_is_listed() -> None:
    assert set(REPORTS) == {"funding", "acquisition", "trading", "commissions", "kyc", "ledger"}
