"""A server that accepts any password but can't prove it knows ours must be rejected by the client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import h11
import pytest

from mt_bridge.errors import ServerAuthenticationError
from mt_bridge.mt5.auth import new_rand
from mt_bridge.mt5.client import Mt5WebApiPlatform
from mt_bridge.mt5.settings import Mt5ServerSettings

IMPOSTOR_ANSWERS = {
    "/api/auth/start": {"retcode": "0 Done", "version_access": "1290", "srv_rand": new_rand()},
    # Says "Done" to any srv_rand_answer, but can't compute cli_rand_answer without the password.
    "/api/auth/answer": {"retcode": "0 Done", "version_access": "1290", "cli_rand_answer": new_rand()},
}


async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    connection = h11.Connection(h11.SERVER)
    try:
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(65536))
                continue
            if isinstance(event, h11.Request):
                path = urlsplit(event.target.decode()).path
            elif isinstance(event, h11.EndOfMessage):
                body = json.dumps(IMPOSTOR_ANSWERS.get(path, {"retcode": "0 Done"})).encode()
                writer.write(
                    connection.send(
                        h11.Response(status_code=200, headers=[("Content-Length", str(len(body)))])
                    )
                )
                writer.write(connection.send(h11.Data(data=body)))
                writer.write(connection.send(h11.EndOfMessage()))
                await writer.drain()
                connection.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                return
    except (ConnectionError, h11.ProtocolError):
        return
    finally:
        writer.close()


@pytest.fixture
async def impostor_url() -> AsyncIterator[str]:
    server = await asyncio.start_server(impostor, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


async def test_client_rejects_a_server_that_does_not_know_the_password(impostor_url: str) -> None:
    platform = Mt5WebApiPlatform(Mt5ServerSettings(impostor_url, 1000, "Manager1!"))
    try:
        with pytest.raises(ServerAuthenticationError):
            await platform.ping()
        assert not platform.connection.authenticated
    finally:
        await platform.close()
