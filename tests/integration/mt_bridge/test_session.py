"""The Web API session over real sockets: handshake, window, per-connection state, keep-alive."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mt_bridge.emulator.http_server import Emulator
from mt_bridge.errors import InvalidPasswordError, PlatformTimeoutError
from mt_bridge.mt5.auth import challenge_answer, new_rand, password_hash
from mt_bridge.mt5.client import Mt5WebApiPlatform
from tests.integration.mt_bridge.conftest import (
    MANAGER_LOGIN,
    MANAGER_PASSWORD,
    EmulatorFactory,
    PlatformFactory,
)


def raw_client(emulator: Emulator) -> httpx.AsyncClient:
    """A bare HTTP client with one connection, to speak the protocol by hand."""
    verify = emulator.certificate.client_context() if emulator.certificate is not None else True
    return httpx.AsyncClient(
        base_url=emulator.base_url, verify=verify, limits=httpx.Limits(max_connections=1), trust_env=False
    )


async def sign_in_by_hand(client: httpx.AsyncClient, delay: float = 0.0) -> dict[str, str]:
    start = (
        await client.get(
            "/api/auth/start",
            params={"version": 484, "agent": "tests", "login": MANAGER_LOGIN, "type": "manager"},
        )
    ).json()
    assert start["retcode"] == "0 Done"
    await asyncio.sleep(delay)
    cli_rand = new_rand()
    hashed = password_hash(MANAGER_PASSWORD)
    answer = (
        await client.get(
            "/api/auth/answer",
            params={"srv_rand_answer": challenge_answer(hashed, start["srv_rand"]), "cli_rand": cli_rand},
        )
    ).json()
    if answer["retcode"] == "0 Done":
        assert answer["cli_rand_answer"] == challenge_answer(hashed, cli_rand)
    return answer


async def test_client_signs_in_with_the_challenge_in_both_directions(platform: Mt5WebApiPlatform) -> None:
    await platform.ping()
    assert platform.connection.authenticated
    assert platform.connection.sign_ins == 1
    await platform.ping()
    assert platform.connection.sign_ins == 1


async def test_wrong_password_is_refused_with_3006(
    emulator: Emulator, make_platform: PlatformFactory
) -> None:
    platform = make_platform(emulator, password="Wrong1pass!")
    with pytest.raises(InvalidPasswordError) as refused:
        await platform.ping()
    assert refused.value.retcode == 3006
    assert not platform.connection.authenticated


async def test_auth_answer_after_the_window_is_refused(start_emulator: EmulatorFactory) -> None:
    emulator = await start_emulator(tls=False, auth_window_seconds=0.5)
    async with raw_client(emulator) as client:
        late = await sign_in_by_hand(client, delay=0.7)
        assert late["retcode"].startswith("9 ")
        in_time = await sign_in_by_hand(client)
        assert in_time["retcode"] == "0 Done"


async def test_client_reports_a_late_answer_as_a_platform_timeout(
    start_emulator: EmulatorFactory, make_platform: PlatformFactory
) -> None:
    # A window of zero seconds can't be met: the client must surface retcode 9, not hang or loop.
    emulator = await start_emulator(tls=False, auth_window_seconds=0.0)
    with pytest.raises(PlatformTimeoutError):
        await make_platform(emulator).ping()


async def test_session_belongs_to_one_tcp_connection(emulator: Emulator) -> None:
    async with raw_client(emulator) as first, raw_client(emulator) as second:
        assert (await sign_in_by_hand(first))["retcode"] == "0 Done"
        assert (await first.get("/api/test/access")).json() == {"retcode": "0 Done"}
        refused = (await second.get("/api/test/access")).json()
        assert refused["retcode"].startswith("8 ")
        assert len(emulator.sessions) == 2


async def test_quit_ends_the_session_but_not_the_connection(emulator: Emulator) -> None:
    async with raw_client(emulator) as client:
        await sign_in_by_hand(client)
        assert (await client.get("/api/quit")).json() == {"retcode": "0 Done"}
        assert (await client.get("/api/test/access")).json()["retcode"].startswith("8 ")
        assert emulator.connections_opened == 1


@pytest.mark.parametrize(
    "params",
    [
        {"version": 483, "agent": "tests", "login": MANAGER_LOGIN, "type": "manager"},
        {"version": 484, "agent": "two words", "login": MANAGER_LOGIN, "type": "manager"},
        {"version": 484, "agent": "", "login": MANAGER_LOGIN, "type": "manager"},
        {"version": 484, "agent": "tests", "login": MANAGER_LOGIN, "type": "client"},
    ],
)
async def test_auth_start_checks_version_agent_and_type(
    emulator: Emulator, params: dict[str, object]
) -> None:
    async with raw_client(emulator) as client:
        answer = (await client.get("/api/auth/start", params=params)).json()
        assert answer["retcode"].startswith("3 ")


async def test_idle_connection_is_closed_and_the_client_signs_in_again(
    start_emulator: EmulatorFactory, make_platform: PlatformFactory
) -> None:
    emulator = await start_emulator(tls=True, idle_timeout_seconds=0.3)
    platform = make_platform(emulator, ping_interval=60.0)
    await platform.ping()
    await asyncio.sleep(0.9)
    assert emulator.sessions == {}
    await platform.ping()
    assert platform.connection.sign_ins == 2
    assert emulator.connections_opened == 2


async def test_pings_keep_an_idle_session_alive(
    start_emulator: EmulatorFactory, make_platform: PlatformFactory
) -> None:
    emulator = await start_emulator(tls=False, idle_timeout_seconds=0.8)
    platform = make_platform(emulator, ping_interval=0.15)
    await platform.ping()
    served_before = sum(session.requests for session in emulator.sessions.values())
    await asyncio.sleep(1.5)
    sessions = list(emulator.sessions.values())
    assert len(sessions) == 1
    assert sessions[0].requests - served_before >= 4
    await platform.ping()
    assert platform.connection.sign_ins == 1
    assert emulator.connections_opened == 1


async def test_client_signs_in_again_after_a_dropped_connection(
    https_emulator: Emulator, make_platform: PlatformFactory
) -> None:
    platform = make_platform(https_emulator)
    await platform.ping()
    first_address = platform.connection.session_address
    assert isinstance(first_address, tuple)
    assert f"{first_address[0]}:{first_address[1]}" in https_emulator.sessions
    assert https_emulator.drop_all_connections() == 1
    await asyncio.sleep(0.05)
    await platform.ping()
    assert platform.connection.sign_ins == 2
    assert https_emulator.connections_opened == 2
    assert platform.connection.session_address not in (None, first_address)


async def test_concurrent_calls_are_serialised_on_one_connection(
    emulator: Emulator, make_platform: PlatformFactory
) -> None:
    platform = make_platform(emulator)
    results = await asyncio.gather(*(platform.ping() for _ in range(25)))
    assert results == [None] * 25
    assert platform.connection.sign_ins == 1
    assert emulator.connections_opened == 1
    assert sum(session.requests for session in emulator.sessions.values()) == 2 + 25


async def test_garbage_answers_are_refused_not_crashes(emulator: Emulator) -> None:
    async with raw_client(emulator) as client:
        start = (
            await client.get(
                "/api/auth/start",
                params={"version": 484, "agent": "t", "login": MANAGER_LOGIN, "type": "manager"},
            )
        ).json()
        assert start["retcode"] == "0 Done"
        odd = (
            await client.get(
                "/api/auth/answer", params={"srv_rand_answer": "ünïcode", "cli_rand": new_rand()}
            )
        ).json()
        assert odd["retcode"].startswith("3006 ")
        not_json = (await client.post("/api/test/access", content=b"{not json")).json()
        assert not_json["retcode"].startswith("3 ")
        assert (await client.get("/api/test/access")).json()["retcode"].startswith("8 ")
