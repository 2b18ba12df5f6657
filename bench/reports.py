"""Reports benchmark on PostgreSQL (DESIGN.md §12; issue 9: every report within 2 s on a seeded year).

In one run, on a scratch database it creates, migrates and drops:

* seeds a year of data with INSERT … SELECT generate_series (no ORM round trips): 100,000 clients
  with KYC profiles and cases, 200,000 deposits and 50,000 withdrawals, 50,000 live trading
  accounts with 1,000,000 deals over 12 symbols in 4 symbol groups, 200 IBs with 500,000
  commission lines, a wallet per client in the ledger and reconciliation runs; then ANALYZE;
* the baseline: a bare full scan of the deals table (``SELECT count(*), sum(profit) FROM mt_deal``);
* every report through :func:`reports.catalogue.run_report`, exactly as the back office runs it,
  for the widest range a report allows (the seeded year) and for the default last 30 days:
  the median of a few runs each.

Prints a table, then one JSON object per figure per line. ``--quick`` seeds a tenth of the data.

    python bench/reports.py [--quick] [--runs 5] [--admin-url postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import DEFAULT_ADMIN_URL, Figure, load_average, print_json_lines, scratch_database
from core.clock import utcnow
from core.db import Database, migrate
from reports.catalogue import REPORTS, run_report
from reports.window import MAX_DAYS, Window, default_window

BENCH = "reports"
TARGET_S = 2.0


@dataclass(frozen=True)
class Sizes:
    clients: int
    deals: int
    deposits: int
    withdrawals: int
    accounts: int
    lines: int
    partners: int = 200


FULL = Sizes(
    clients=100_000, deals=1_000_000, deposits=200_000, withdrawals=50_000, accounts=50_000, lines=500_000
)
QUICK = Sizes(clients=10_000, deals=100_000, deposits=20_000, withdrawals=5_000, accounts=5_000, lines=50_000)

SYMBOLS = {
    "forex": ("EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF"),
    "metals": ("XAUUSD", "XAGUSD"),
    "indices": ("US30", "NAS100", "GER40"),
    "energy": ("USOIL", "UKOIL"),
}
COUNTRIES = ("GB", "DE", "FR", "ES", "IT", "CN", "SG", "AE", "ZA", "BR", "MX", "TH")


def seed_statements(sizes: Sizes, end: datetime) -> list[tuple[str, str]]:
    """(what, SQL) in order; ``$1`` is the start of the seeded year, every row falls within it."""
    n, year = sizes, "interval '365 days'"
    spread = f"($1::timestamptz + (random() * {year}))"
    symbols = [symbol for group in SYMBOLS.values() for symbol in group]
    symbol_array = "ARRAY[" + ",".join(f"'{s}'" for s in symbols) + "]"
    country_array = "ARRAY[" + ",".join(f"'{c}'" for c in COUNTRIES) + "]"
    groups = "\n".join(
        f"INSERT INTO mt_symbol_group (name, description) VALUES ('{group}', '');" for group in SYMBOLS
    )
    symbol_rows = ",".join(
        f"('{symbol}', (SELECT id FROM mt_symbol_group WHERE name = '{group}'), '100000', 5, '[]')"
        for group, members in SYMBOLS.items()
        for symbol in members
    )
    return [
        (
            "clients",
            f"""INSERT INTO users (kind, email, display_name, password_hash, language, is_active,
                totp_last_step, created_at)
            SELECT 'client', 'client' || g || '@bench.test', '', 'x', 'en', true, 0, {spread}
            FROM generate_series(1, {n.clients}) g""",
        ),
        (
            "KYC profiles",
            f"""INSERT INTO kyc_profile_version (client_id, version, first_name, last_name, birth_date,
                nationality, country_of_residence, address_line, city, postal_code, phone, tax_residence,
                tin, employment_status, source_of_funds, is_pep, is_sanctioned, created_by, created_at)
            SELECT u.id, 1, 'First', 'Last', DATE '1985-01-01', c, c, '1 Street', 'City', '1000', '+100',
                c, 'T', 'employed', 'salary', false, false, u.id, u.created_at
            FROM (SELECT id, created_at, ({country_array})[1 + (id % {len(COUNTRIES)})] AS c FROM users
                  WHERE kind = 'client') u""",
        ),
        (
            "KYC cases",
            """INSERT INTO kyc_case (client_id, status, level, risk_level, risk_reasons, submitted_at,
                decided_at, updated_at)
            SELECT id,
                CASE WHEN id % 20 = 0 THEN 'submitted' WHEN id % 20 = 1 THEN 'rejected'
                     WHEN id % 5 = 2 THEN 'draft' ELSE 'approved' END,
                CASE WHEN id % 20 > 1 AND id % 5 <> 2 THEN 'full' ELSE 'none' END, 'low', '[]',
                CASE WHEN id % 5 = 2 THEN NULL ELSE created_at + interval '1 hour' END,
                CASE WHEN id % 20 = 0 OR id % 5 = 2 THEN NULL
                     ELSE created_at + interval '1 hour' + (id % 72) * interval '1 hour' END,
                created_at
            FROM users WHERE kind = 'client'""",
        ),
        (
            "deposits",
            f"""INSERT INTO cashier_deposits (client_id, method, psp, psp_payment_id, currency, amount,
                credited_amount, status, idempotency_key, chargeback_open, created_at, updated_at)
            SELECT 1 + (g % {n.clients}),
                CASE WHEN g % 3 = 0 THEN 'wire' ELSE 'psp' END,
                CASE WHEN g % 3 = 0 THEN NULL ELSE 'sandbox' END,
                CASE WHEN g % 3 = 0 THEN NULL ELSE 'pay-' || g END,
                CASE WHEN g % 4 = 0 THEN 'EUR' ELSE 'USD' END,
                1000 + (g % 500000), 1000 + (g % 500000),
                CASE WHEN g % 10 = 0 THEN 'declined' ELSE 'credited' END,
                'bench-' || g, false, t, t
            FROM (SELECT g, {spread} AS t FROM generate_series(1, {n.deposits}) g) s""",
        ),
        (
            "withdrawals",
            f"""INSERT INTO cashier_withdrawals (client_id, currency, amount, status, destination_kind, psp,
                idempotency_key, due_at, created_at, updated_at)
            SELECT 1 + (g % {n.clients}), CASE WHEN g % 4 = 0 THEN 'EUR' ELSE 'USD' END, 500 + (g % 200000),
                CASE WHEN g % 8 = 0 THEN 'pending_approval' ELSE 'paid' END,
                CASE WHEN g % 2 = 0 THEN 'psp' ELSE 'bank_account' END,
                CASE WHEN g % 2 = 0 THEN 'sandbox' ELSE NULL END,
                'bench-w-' || g, t + interval '2 days', t, t
            FROM (SELECT g, {spread} AS t FROM generate_series(1, {n.withdrawals}) g) s""",
        ),
        (
            "products",
            f"""INSERT INTO mt_server (name, platform, address, manager_login, manager_password_sealed,
                time_offset_minutes, login_range_start, is_demo, enabled, created_at, updated_at)
            VALUES ('bench-live', 'mt5', '127.0.0.1:1', 1000, '\\x00', 0, 100000, false, true, $1, $1);
            INSERT INTO mt_group (server_id, name, currency, currency_digits, leverage_min, leverage_max)
            SELECT id, 'real\\standard', 'USD', 2, 1, 500 FROM mt_server;
            INSERT INTO mt_account_type (code, name, server_id, group_id, currency, leverage_options,
                auto_leverage_max, min_deposit, demo_deposit, is_demo, needs_approval, enabled)
            SELECT 'standard', 'Standard', server_id, id, 'USD', '[100]', 100, 0, 0, false, false, true
            FROM mt_group;
            {groups}
            INSERT INTO mt_symbol (name, symbol_group_id, contract_size, digits, aliases)
            VALUES {symbol_rows}""",
        ),
        (
            "trading accounts",
            f"""INSERT INTO mt_trading_account (client_id, server_id, account_type_id, login, group_name,
                currency, currency_digits, leverage, is_demo, status, balance, credit, equity, margin,
                margin_free, created_at)
            SELECT 1 + (g % {n.clients}), t.server_id, t.id, 100000 + g, 'real\\standard', 'USD', 2, 100,
                g % 10 = 0, 'active', 0, 0, 0, 0, 0, $1
            FROM generate_series(1, {n.accounts}) g, mt_account_type t""",
        ),
        (
            "deals",
            f"""INSERT INTO mt_deal (server_id, ticket, login, order_ticket, position_id, action, entry,
                symbol, raw_symbol, volume, volume_closed, price, profit, commission, swap, fee,
                currency_digits,
                time, time_msc, comment, deleted, revision, needs_posting, posted_profit,
                posted_commission, posted_swap, posted_fee, synced_at)
            SELECT s.id, g, 100000 + 1 + (g % {n.accounts}), g, g / 2, g % 2, g % 2, sym, sym,
                to_char(0.01 * (1 + g % 300), 'FM990.00'), '0', '1.10000', (g % 2001) - 1000, -(g % 7), 0, 0,
                2, t, (extract(epoch FROM t) * 1000)::bigint, '', g % 500 = 0, 0, false, 0, 0, 0, 0, t
            FROM (SELECT g, {spread} AS t, ({symbol_array})[1 + (g % {len(symbols)})] AS sym
                  FROM generate_series(1, {n.deals}) g) d, mt_server s""",
        ),
        (
            "IB scheme and partners",
            f"""INSERT INTO ib_scheme (name, currency, created_at) VALUES ('Bench', 'USD', $1);
            INSERT INTO ib_scheme_version (scheme_id, version, effective_from, status, created_by, created_at,
                published_at) SELECT id, 1, $1, 'published', 'bench', $1, $1 FROM ib_scheme;
            INSERT INTO ib_rule (scheme_version_id, code, kind, params, conditions)
            SELECT id, 'fixed', 'fixed', '{{"amount_per_lot": 700}}', '{{}}' FROM ib_scheme_version;
            INSERT INTO ib_partner (client_id, status, since, created_at)
            SELECT g, 'active', $1, $1 FROM generate_series(1, {n.partners}) g""",
        ),
        (
            "IB deals and commission lines",
            f"""INSERT INTO ib_deal (server, ticket, login, client_id, position_id, action, entry, symbol,
                volume_closed, contract_size, profit, commission, currency_digits, time, fingerprint,
                deleted, updated_at)
            SELECT 'bench-live', g, 100000 + g, 1 + (g % {n.clients}), g, 1, 1, 'EURUSD', 100000000,
                '100000', 0, 0, 2, {spread}, md5(g::text), false, $1
            FROM generate_series(1, {n.lines // 2}) g;
            INSERT INTO ib_commission_line (deal_id, beneficiary_id, rule_id, scheme_version_id, rule_code,
                kind, level, trader_client_id, deal_time, currency, amount, inputs, formula, revision,
                computed_at)
            SELECT d.id, p.id, r.id, r.scheme_version_id, 'fixed', 'fixed', lvl, d.client_id, d.time, 'USD',
                CASE WHEN lvl = 1 THEN 700 ELSE 200 END, '{{}}', 'lots x rate', 1, d.time
            FROM ib_deal d CROSS JOIN (VALUES (1), (2)) AS levels(lvl)
            JOIN ib_partner p ON p.id = 1 + ((d.id + lvl) % {n.partners})
            CROSS JOIN ib_rule r""",
        ),
        (
            "ledger accounts",
            """INSERT INTO accounts (currency, owner_kind, owner_id, purpose, normal_side, debits_posted,
                credits_posted, created_at)
            SELECT 'USD', 'client', id::text, 'client_wallet', 'credit', 0, 1000 + id, created_at
            FROM users WHERE kind = 'client';
            INSERT INTO accounts (currency, owner_kind, owner_id, purpose, normal_side, debits_posted,
                credits_posted, created_at)
            SELECT 'USD', 'house', 'bank', 'bank', 'debit', coalesce(sum(credits_posted), 0), 0, $1
            FROM accounts WHERE purpose = 'client_wallet'""",
        ),
        (
            "reconciliation runs",
            f"""INSERT INTO mt_reconciliation_run (server_id, started_at, compared, difference_count)
            SELECT s.id, $1::timestamptz + g * interval '1 day', {n.accounts}, g % 3
            FROM generate_series(0, 364) g, mt_server s;
            INSERT INTO mt_reconciliation_difference (run_id, server_id, login, currency, ledger_balance,
                server_balance, kind, created_at)
            SELECT r.id, r.server_id, 100001, 'USD', 1000, 1250, 'amount_mismatch', r.started_at
            FROM mt_reconciliation_run r WHERE r.id = (SELECT max(id) FROM mt_reconciliation_run)""",
        ),
    ]


async def seed(dsn: str, sizes: Sizes, start: datetime, end: datetime) -> dict[str, float]:
    seconds: dict[str, float] = {}
    connection = await asyncpg.connect(dsn)
    try:
        for what, sql in seed_statements(sizes, end):
            began = time.perf_counter()
            for statement in [part for part in sql.split(";\n") if part.strip()]:
                if "$1" in statement:
                    await connection.execute(statement, start)
                else:
                    await connection.execute(statement)
            seconds[what] = time.perf_counter() - began
            print(f"seeded {what}: {seconds[what]:.1f} s", file=sys.stderr)
        began = time.perf_counter()
        await connection.execute("VACUUM ANALYZE")
        seconds["vacuum analyze"] = time.perf_counter() - began
    finally:
        await connection.close()
    return seconds


async def median_seconds(action: Callable[[], Awaitable[object]], runs: int) -> float:
    await action()  # warm the caches and the plans once, as a page that has been opened before
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        await action()
        timings.append(time.perf_counter() - began)
    return statistics.median(timings)


async def baseline_seconds(dsn: str, runs: int) -> float:
    connection = await asyncpg.connect(dsn)
    try:
        return await median_seconds(
            lambda: connection.fetchrow("SELECT count(*), sum(profit) FROM mt_deal"), runs
        )
    finally:
        await connection.close()


async def measure(db: Database, dsn: str, runs: int, year: Window) -> list[Figure]:
    baseline = await baseline_seconds(dsn, runs)
    figures = []
    now = utcnow()
    for key in REPORTS:
        for label, window in (("year", year), ("30d", default_window(year.last_day))):

            async def one(key: str = key, window: Window = window) -> object:
                async with db.session() as session:
                    return await run_report(session, key, window, now)

            value = await median_seconds(one, runs)
            figures.append(Figure(f"{key}_{label}_s", value, "s", "deal_table_scan_s", baseline, False))
    return figures


async def run(admin_url: str, sizes: Sizes, runs: int) -> tuple[list[Figure], dict[str, float]]:
    end = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=365)
    year = Window(start.date(), (end - timedelta(seconds=1)).date())
    assert (year.last_day - year.first_day).days + 1 <= MAX_DAYS
    async with scratch_database(admin_url, f"bd_bench_reports_{os.getpid()}") as (dsn, url):
        await asyncio.to_thread(migrate.upgrade, url)
        seeding = await seed(dsn, sizes, start.astimezone(UTC), end)
        db = Database.from_url(url)
        try:
            return await measure(db, dsn, runs, year), seeding
        finally:
            await db.dispose()


def report(figures: list[Figure], seeding: dict[str, float], sizes: Sizes) -> None:
    print(
        f"\nreports benchmark: {sizes.clients:,} clients, {sizes.deals:,} deals, {sizes.deposits:,} deposits,"
        f" {sizes.withdrawals:,} withdrawals, {sizes.lines:,} commission lines over a year;"
        f" load average {load_average()}"
    )
    print(f"seeding took {sum(seeding.values()):.1f} s")
    print(f"{'metric':<28}{'value':>10} {'unit':<5}{'ratio':>8}  {'target':<14} baseline")
    for figure in figures:
        verdict = f"<{TARGET_S:g} s " + ("ok" if figure.value < TARGET_S else "MISSED")
        print(
            f"{figure.metric:<28}{figure.value:>10.3f} {figure.unit:<5}{figure.ratio:>8.2f}  {verdict:<14} "
            f"{figure.baseline} = {figure.baseline_value:.3f} s"
        )
    print()
    print_json_lines(BENCH, figures, value_digits=3, ratio_digits=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the data; finishes in under a minute"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per report (the median is shown)")
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", DEFAULT_ADMIN_URL))
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    figures, seeding = asyncio.run(run(args.admin_url, sizes, 3 if args.quick else args.runs))
    report(figures, seeding, sizes)


if __name__ == "__main__":
    main()
