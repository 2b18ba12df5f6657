"""The ``brokerdesk`` command, run as a real process."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from cashier.models import Deposit, DepositStatus, Withdrawal, WithdrawalStatus
from cli.commands.config import markdown_table
from cli.seed import seed_demo
from cli.seed_history import HISTORY_DAYS, TRADERS, seed_history
from cli.stack import start_emulator, start_mt4_emulator
from core import clock
from core.db import Database
from core.secrets_box import SecretsBox
from core.settings import Settings
from ib.models import CommissionLine, Payout
from ledger.reading import trial_balance
from mt_bridge.connect import PlatformDirectory
from mt_bridge.models import MirroredDeal, Platform, TradingServer
from mt_bridge.reconciliation import reconcile_server
from tests.helpers import csrf_from
from tests.processes import children as child_processes

ROOT = Path(__file__).resolve().parents[2]
BROKERDESK = Path(sys.executable).parent / "brokerdesk"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        **extra,
    }


def test_db_upgrade_and_downgrade(tmp_path: Path) -> None:
    environment = _environment(tmp_path)
    up = subprocess.run(
        [BROKERDESK, "db", "upgrade"], env=environment, cwd=tmp_path, capture_output=True, text=True
    )
    assert up.returncode == 0, up.stderr
    assert (tmp_path / "demo.db").exists()
    down = subprocess.run(
        [BROKERDESK, "db", "downgrade", "base"], env=environment, cwd=tmp_path, capture_output=True, text=True
    )
    assert down.returncode == 0, down.stderr


def test_production_without_settings_refuses_and_names_them(tmp_path: Path) -> None:
    environment = _environment(tmp_path, BROKERDESK_ENV="production")
    result = subprocess.run(
        [BROKERDESK, "serve", "portal"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "BROKERDESK_SECRET_KEY" in result.stderr
    assert "REDIS_URL" in result.stderr


DEMO_START_SECONDS = 240
"""Migrations, seeders and three months of history on a fresh SQLite file, on a shared machine."""


def _commission_lines(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as connection:
        return int(connection.execute("SELECT count(*) FROM ib_commission_line").fetchone()[0])


def _port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` (connections of ours may linger in TIME_WAIT, as after any
    server stops, so the probe binds as a restarted server would, with SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.skipif(
    os.environ.get("BROKERDESK_TEST_DATABASE", "sqlite") != "sqlite",
    reason="the demo always runs on its own SQLite file, whichever leg; the SQLite leg of make test runs it",
)
def test_demo_serves_both_apps_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    portal_port, backoffice_port, psp_port = _free_port(), _free_port(), _free_port()
    environment = _environment(
        tmp_path,
        BROKERDESK_PORTAL_PORT=str(portal_port),
        BROKERDESK_BACKOFFICE_PORT=str(backoffice_port),
        BROKERDESK_PSP_SANDBOX_URL=f"http://127.0.0.1:{psp_port}",
        # argon2id made cheap for the test's speed only; the demo itself keeps the strong default.
        BROKERDESK_ARGON2_TIME_COST="1",
        BROKERDESK_ARGON2_MEMORY_KIB="8192",
        BROKERDESK_ARGON2_PARALLELISM="1",
    )
    (tmp_path / "demo.db").write_bytes(b"left over from an earlier run")
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [BROKERDESK, "demo"],
            env=environment,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    children: set[int] = set()
    try:
        deadline = time.monotonic() + DEMO_START_SECONDS
        while time.monotonic() < deadline and "Demo logins:" not in log.read_text():
            assert process.poll() is None, log.read_text()
            time.sleep(0.5)
        banner = log.read_text()
        assert "Demo logins:" in banner, banner
        for port in (portal_port, backoffice_port):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        portal_page = httpx.get(f"http://127.0.0.1:{portal_port}/")
        assert "Client portal" in portal_page.text
        backoffice_page = httpx.get(f"http://127.0.0.1:{backoffice_port}/")
        assert backoffice_page.status_code in (200, 303)
        _staff_signs_in_with_the_printed_totp_hint(f"http://127.0.0.1:{backoffice_port}", banner)
        _new_deals_keep_paying_the_ib_network(tmp_path / "demo.db")
        _open_a_demo_account_and_see_it_synced(f"http://127.0.0.1:{portal_port}")
        children = child_processes(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    output = log.read_text()
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{portal_port}/" in output
    assert f"http://127.0.0.1:{backoffice_port}/" in output
    assert "BrokerDesk demo stopped." in output
    emulator = re.search(r"MT5 emulator  : http://127\.0\.0\.1:(\d+)/", output)
    assert emulator, output
    assert "Traceback" not in output
    # Nothing it started outlives it: no child process, and every port it served is free again.
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert all(
        _port_is_free(port) for port in (portal_port, backoffice_port, psp_port, int(emulator.group(1)))
    )


def _staff_signs_in_with_the_printed_totp_hint(backoffice: str, banner: str) -> None:
    """The banner prints each staff login's TOTP secret and the command that turns one into the
    current code; the admin signs in with exactly that."""
    found = re.search(r"(admin@demo\.brokerdesk\.test) +role admin +TOTP ([A-Z2-7]+)", banner)
    assert found, banner
    assert f"brokerdesk totp {found.group(2)}" in banner
    assert "Demo-Staff-Pass-2026" in banner
    printed = subprocess.run([BROKERDESK, "totp", found.group(2)], capture_output=True, text=True, timeout=30)
    assert printed.returncode == 0, printed.stderr
    code = printed.stdout.split()[0]
    assert re.fullmatch(r"\d{6}", code), printed.stdout
    with httpx.Client(base_url=backoffice, timeout=30) as client:
        page = client.get("/login")
        first = client.post(
            "/login",
            data={
                "email": found.group(1),
                "password": "Demo-Staff-Pass-2026",
                "_csrf_token": csrf_from(page.text),
            },
        )
        assert first.status_code == 303, first.text
        second_page = client.get(first.headers["location"])
        second = client.post("/login/2fa", data={"code": code, "_csrf_token": csrf_from(second_page.text)})
        assert second.status_code == 303, second.text
        assert not second.headers["location"].startswith("/login"), second.headers


def _new_deals_keep_paying_the_ib_network(database: Path) -> None:
    """The seeded traders' live accounts keep trading on the emulator: while someone watches, the
    sync brings new deals and the engine writes new commission lines."""
    before = _commission_lines(database)
    assert before > 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _commission_lines(database) <= before:
        time.sleep(2)
    assert _commission_lines(database) > before


def _open_a_demo_account_and_see_it_synced(portal: str) -> None:
    """The seeded demo client opens a demo account; the bridge workers open it on the demo's MT5
    emulator, fund it, and the sync brings its balance back to the portal. The emulator's trade
    simulator trades the funded account at once, so the balance is the demo funds give or take
    what its first deals made."""
    with httpx.Client(base_url=portal, timeout=10) as client:
        login_page = client.get("/login")
        signed_in = client.post(
            "/login",
            data={
                "email": "client@demo.brokerdesk.test",
                "password": "Demo-Client-Pass-2026",
                "_csrf_token": csrf_from(login_page.text),
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        page = client.get("/trading").text
        form = re.search(
            r'data-type="demo">.*?name="account_type_id" value="(\d+)">'
            r'.*?name="idempotency_key" value="([^"]+)"',
            page,
            re.S,
        )
        assert form, page
        opened = client.post(
            "/trading/open",
            data={
                "account_type_id": form.group(1),
                "idempotency_key": form.group(2),
                "leverage": "100",
                "_csrf_token": csrf_from(page),
            },
        )
        assert opened.status_code == 200, opened.text
        login = re.search(r'class="login">(\d+)<', opened.text)
        assert login, opened.text
        deadline = time.monotonic() + 60
        row, balance = "", None
        while time.monotonic() < deadline:
            listing = client.get("/trading").text
            found = re.search(r'<tr class="trading-account".*?</tr>', listing, re.S)
            row = found.group(0) if found else ""
            balance = re.search(r'class="balance">([\d,]+\.\d\d) USD<', row)
            if balance and balance.group(1) != "0.00":
                break
            time.sleep(1)
        assert login.group(1) in row, row
        assert balance, row
        assert Decimal(9_000) < Decimal(balance.group(1).replace(",", "")) < Decimal(11_000), row


def test_readme_configuration_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "README's configuration table is stale: paste `brokerdesk config`"


@pytest.mark.skipif(
    os.environ.get("BROKERDESK_TEST_DATABASE", "sqlite") != "sqlite",
    reason="only the demo seeds history, and the demo always runs on its own SQLite file",
)
async def test_demo_history_spans_months_through_the_real_services(db: Database, settings: Settings) -> None:
    """The demo's seeders and history on the MT5 and MT4 emulators (their live simulators off, so
    nothing trades between the steps): months of deals, commission lines and payouts, deposits and
    four-eyes withdrawals, with books that balance and a ledger that agrees with both servers."""
    await seed_demo(db, settings)
    seeded: list[str] = []
    emulator = await start_emulator(settings, seeded, run_simulator=False)
    mt4 = await start_mt4_emulator(settings, seeded, run_simulator=False)
    directory = PlatformDirectory(db, SecretsBox.from_settings(settings))
    try:
        lines = await seed_history(db, settings, emulator, mt4)
        assert any("trader-fay@demo.brokerdesk.test" in line for line in lines)
        async with db.session() as session:
            deal_times = list(await session.scalars(select(MirroredDeal.time)))
            line_months = {
                (moment.year, moment.month)
                for moment in await session.scalars(select(CommissionLine.deal_time))
            }
            paid_months = {
                (moment.year, moment.month)
                for moment in await session.scalars(select(Payout.created_at).where(Payout.amount > 0))
            }
            deposits = list(await session.scalars(select(Deposit.status)))
            withdrawals = list(await session.scalars(select(Withdrawal.status)))
            server_ids = list(await session.scalars(select(TradingServer.id)))
            platforms = set(await session.scalars(select(TradingServer.platform)))
        span = clock.as_utc(max(deal_times)) - clock.as_utc(min(deal_times))
        assert timedelta(days=80) < span < timedelta(days=HISTORY_DAYS), span
        assert len(line_months) >= 3, line_months
        assert len(paid_months) >= 2, paid_months
        assert len(deposits) >= len(TRADERS)
        assert set(deposits) == {DepositStatus.CREDITED}
        assert withdrawals
        assert set(withdrawals) == {WithdrawalStatus.PAID}
        assert (await trial_balance(db, "USD")).balanced
        assert platforms == {Platform.MT5, Platform.MT4}
        compared = 0
        for server_id in server_ids:  # the MT4 server has account types, no history accounts
            reconciled = await reconcile_server(db, directory.platform, server_id)
            assert reconciled.differences == []
            compared += reconciled.compared
        assert compared == len(TRADERS)

        again = await seed_history(db, settings, emulator, mt4)  # a second run finds the history built
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(MirroredDeal)) == len(deal_times)
        assert again == lines
    finally:
        await directory.close()
        await mt4.stop()
        await emulator.stop()
