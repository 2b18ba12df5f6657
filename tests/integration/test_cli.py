"""The ``brokerdesk`` command, run as a real process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx

from cli.commands.config import markdown_table
from tests.helpers import csrf_from

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


def test_demo_serves_both_apps_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    portal_port, backoffice_port = _free_port(), _free_port()
    environment = _environment(
        tmp_path, BROKERDESK_PORTAL_PORT=str(portal_port), BROKERDESK_BACKOFFICE_PORT=str(backoffice_port)
    )
    process = subprocess.Popen(
        [BROKERDESK, "demo"],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        answers: dict[int, int] = {}
        while time.monotonic() < deadline and len(answers) < 2:
            for port in (portal_port, backoffice_port):
                try:
                    answers[port] = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
                except httpx.TransportError:
                    time.sleep(0.3)
        assert answers == {portal_port: 200, backoffice_port: 200}
        portal_page = httpx.get(f"http://127.0.0.1:{portal_port}/")
        assert "Client portal" in portal_page.text
        backoffice_page = httpx.get(f"http://127.0.0.1:{backoffice_port}/")
        assert backoffice_page.status_code in (200, 303)
        _open_a_demo_account_and_see_it_synced(f"http://127.0.0.1:{portal_port}")
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{portal_port}/" in output
    assert f"http://127.0.0.1:{backoffice_port}/" in output
    assert "BrokerDesk demo stopped." in output
    assert re.search(r"MT5 emulator  : http://127\.0\.0\.1:\d+/", output), output
    assert "Traceback" not in output


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
