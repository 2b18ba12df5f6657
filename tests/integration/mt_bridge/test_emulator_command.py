"""``brokerdesk emulator`` as a process: it listens, prints its address and serves real clients."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cli.main import build_parser
from mt_bridge.emulator.tls import SelfSignedCertificate
from mt_bridge.mt5.client import Mt5WebApiPlatform
from mt_bridge.mt5.settings import Mt5ServerSettings
from mt_bridge.records import NewAccount


def test_emulator_subcommand_is_registered() -> None:
    args = build_parser().parse_args(
        ["emulator", "--port", "0", "--plain-http", "--seed", "9", "--manager", "1:Ab1!x"]
    )
    assert (args.host, args.port, args.plain, args.seed, args.manager) == (
        "127.0.0.1",
        0,
        True,
        9,
        ["1:Ab1!x"],
    )


@pytest.fixture
def run_command(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def start(processes: list[subprocess.Popen[str]], *extra: str) -> str:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "emulator",
            "--port",
            "0",
            "--manager",
            "2000:Other1pass!",
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    processes.append(process)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "MT5 emulator on " in line, line
    return line.split(" on ", 1)[1].split(" ", 1)[0]


@pytest.mark.parametrize("plain", [True, False])
async def test_command_serves_clients(
    run_command: list[subprocess.Popen[str]], tmp_path: Path, plain: bool
) -> None:
    certificate = tmp_path / "emulator.pem"
    extra = ["--plain", "--no-simulator"] if plain else ["--certificate-out", str(certificate), "--seed", "3"]
    url = await asyncio.to_thread(start, run_command, *extra)
    assert url.startswith("http://127.0.0.1:" if plain else "https://127.0.0.1:")
    verify = True if plain else SelfSignedCertificate(certificate.read_bytes(), b"").client_context()
    platform = Mt5WebApiPlatform(
        Mt5ServerSettings(url, 2000, "Other1pass!", verify=verify, server_offset=timedelta(minutes=120))
    )
    try:
        created = await platform.create_account(
            NewAccount(
                group="demo\\forex-usd",
                name="Cli",
                leverage=50,
                main_password="Main1pass!",
                investor_password="Inv1pass!",
            )
        )
        assert created.login == 100000
        assert created.leverage == 50
    finally:
        await platform.close()
