"""Server-side sessions that refuse fixation and rotate their id at sign-in.

Litestar's stock server-side backend stores a session under whatever id the browser's cookie
names, even one the server never issued, which lets an attacker plant a known id (session
fixation). This backend only keeps an id that already has data in the store; any other cookie
value gets a fresh random id. :func:`rotate_session_id` asks for a new id when a user signs in,
and the old id's data is deleted.

A request that leaves the session as it found it (most pages) writes nothing back: reading it
already renewed its expiry in the store (``renew_on_access``), so the stock backend's rewrite of the
same bytes was a second store round trip on every page. Only the cookie is sent again. Skipping it
also means a request that was in flight while the same session signed out elsewhere can no longer
write the signed-out session back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty, Message, Scope, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items

KNOWN_ID = "brokerdesk.session.known_id"
LOADED = "brokerdesk.session.loaded"
ROTATE = "brokerdesk.session.rotate"


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def rotate_session_id(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Store this request's session under a new id (call it when the user signs in)."""
    _state(connection.scope)[ROTATE] = True


class RotatingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions keyed only by ids this server issued, rotated on request."""

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        session_id = connection.cookies.get(self.config.key)
        if session_id and session_id != "null":
            store = self.config.get_store_from_app(connection.scope["app"])
            data = await self.get(session_id, store=store)
            if data is not None:
                _state(connection.scope)[KNOWN_ID] = session_id
                _state(connection.scope)[LOADED] = data
                return self.deserialize_data(data)
        return {}

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        known: str | None = _state(connection.scope).get(KNOWN_ID)
        if known:
            return known
        issued = connection.get_session_id()
        return issued or self.generate_session_id()

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        state = _state(connection.scope)
        if state.pop(ROTATE, False):
            old_id = state.pop(KNOWN_ID, None)
            if old_id:
                await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
            new_id = self.generate_session_id()
            connection._connection_state.session_id = new_id
        elif self._as_loaded(scope_session, connection):
            self._send_cookie(state[KNOWN_ID], message)
            return
        await super().store_in_message(scope_session, message, connection)

    def _as_loaded(self, scope_session: ScopeSession, connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
        """Whether the session is still the one loaded from the store, byte for byte."""
        loaded = _state(connection.scope).get(LOADED)
        if loaded is None or scope_session is Empty or not self.config.renew_on_access:
            return False
        return bool(self.serialize_data(scope_session, connection.scope) == loaded)

    def _send_cookie(self, session_id: str, message: Message) -> None:
        """The session cookie, as the stock backend sets it on every answer (its max-age renewed)."""
        params = dict(extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys()))
        MutableScopeHeaders.from_message(message).add(
            "Set-Cookie", Cookie(value=session_id, key=self.config.key, **params).to_header(header="")
        )


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    """:class:`ServerSideSessionConfig` with the fixation-proof, rotating backend."""

    _backend_class = RotatingSessionBackend
