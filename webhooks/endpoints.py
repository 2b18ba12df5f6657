"""Webhook endpoints: staff register a URL for some event kinds; it gets a secret shown once.

A URL is ``https://``, or ``http://`` to a loopback host only (a receiver on the same machine, for
development): anything else would send signed client facts over the network in clear text. The
secret is generated here, sealed at rest with :class:`core.secrets_box.SecretsBox` bound to the
endpoint's row, and returned to the caller once, when it is made or rotated; it is never shown again.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.audit.service import Actor, record_audit
from core.events import EventKind
from core.secrets_box import SecretsBox
from webhooks.errors import EndpointNotFoundError, InvalidEndpointError
from webhooks.models import Endpoint
from webhooks.signing import new_secret

AUDIT_TARGET = "webhook_endpoint"
URL_LIMIT = 500
DESCRIPTION_LIMIT = 200
"""The limits the messages below spell out (the messages are catalog entries, so not formatted)."""
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
KINDS: tuple[str, ...] = tuple(kind.value for kind in EventKind)


@dataclass(frozen=True)
class EndpointInput:
    """A validated endpoint form."""

    url: str
    description: str
    kinds: tuple[str, ...]
    enabled: bool


@dataclass(frozen=True)
class IssuedSecret:
    """An endpoint and its plain secret, for the one page that shows it."""

    endpoint: Endpoint
    secret: str


def secret_context(endpoint_id: int) -> str:
    """What a sealed secret is bound to: it opens only in this endpoint's row."""
    return f"webhooks.endpoint:{endpoint_id}"


def is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(raw: str) -> str:
    """The URL, trimmed, when it is one we may send to; :class:`InvalidEndpointError` says why not."""
    url = (raw or "").strip()
    if not url:
        raise InvalidEndpointError("url", "URL: required.")
    if len(url) > URL_LIMIT:
        raise InvalidEndpointError("url", "URL: at most 500 characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidEndpointError("url", "URL: no spaces or control characters.")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        raise InvalidEndpointError("url", "URL: not a valid address.") from None
    if parts.scheme not in ("https", "http"):
        raise InvalidEndpointError(
            "url", "URL: must start with https:// (http:// only for a loopback address)."
        )
    if not host:
        raise InvalidEndpointError("url", "URL: give a host name.")
    if parts.username is not None or parts.password is not None:
        raise InvalidEndpointError(
            "url", "URL: no user name or password in the address; the signature authenticates us."
        )
    if parts.fragment:
        raise InvalidEndpointError("url", "URL: no #fragment.")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise InvalidEndpointError(
            "url", "URL: http:// is allowed only for a loopback address; use https://."
        )
    return url


def parse_endpoint(form: Mapping[str, str], kinds: Sequence[str]) -> EndpointInput:
    """Check a submitted form (``kinds`` are the ticked event kinds)."""
    url = check_url(form.get("url") or "")
    description = " ".join((form.get("description") or "").split())
    if len(description) > DESCRIPTION_LIMIT:
        raise InvalidEndpointError("description", "Description: at most 200 characters.")
    chosen = tuple(kind for kind in KINDS if kind in set(kinds))
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise InvalidEndpointError("kinds", "Events: choose from the kinds listed.")
    if not chosen:
        raise InvalidEndpointError("kinds", "Events: choose at least one.")
    return EndpointInput(url=url, description=description, kinds=chosen, enabled=form.get("enabled") == "on")


def audit_view(row: Endpoint) -> dict[str, object]:
    return {"url": row.url, "description": row.description, "kinds": list(row.kinds), "enabled": row.enabled}


async def list_endpoints(session: AsyncSession) -> Sequence[Endpoint]:
    return (await session.scalars(select(Endpoint).order_by(Endpoint.id))).all()


async def get_endpoint(session: AsyncSession, endpoint_id: int) -> Endpoint:
    row = await session.get(Endpoint, endpoint_id)
    if row is None:
        raise EndpointNotFoundError(f"no webhook endpoint {endpoint_id}")
    return row


async def create_endpoint(
    session: AsyncSession, box: SecretsBox, data: EndpointInput, actor: Actor
) -> IssuedSecret:
    now = clock.utcnow()
    row = Endpoint(
        url=data.url,
        description=data.description,
        kinds=list(data.kinds),
        enabled=data.enabled,
        secret_sealed=b"",
        created_by=actor.id,
        created_at=now,
        updated_at=now,
        secret_rotated_at=now,
    )
    session.add(row)
    await session.flush()
    secret = new_secret()
    row.secret_sealed = box.seal(secret, secret_context(row.id))
    await record_audit(
        session,
        actor,
        "webhooks.endpoint_created",
        target_type=AUDIT_TARGET,
        target_id=row.id,
        after=audit_view(row),
    )
    return IssuedSecret(row, secret)


async def update_endpoint(
    session: AsyncSession, endpoint_id: int, data: EndpointInput, actor: Actor
) -> Endpoint:
    row = await get_endpoint(session, endpoint_id)
    before = audit_view(row)
    row.url, row.description, row.kinds, row.enabled = (
        data.url,
        data.description,
        list(data.kinds),
        data.enabled,
    )
    row.updated_at = clock.utcnow()
    await record_audit(
        session,
        actor,
        "webhooks.endpoint_changed",
        target_type=AUDIT_TARGET,
        target_id=row.id,
        before=before,
        after=audit_view(row),
    )
    return row


async def rotate_secret(
    session: AsyncSession, box: SecretsBox, endpoint_id: int, actor: Actor
) -> IssuedSecret:
    """A new secret replaces the old one at once: the next attempt is signed with it."""
    row = await get_endpoint(session, endpoint_id)
    secret = new_secret()
    row.secret_sealed = box.seal(secret, secret_context(row.id))
    row.secret_rotated_at = row.updated_at = clock.utcnow()
    await record_audit(
        session,
        actor,
        "webhooks.secret_rotated",
        target_type=AUDIT_TARGET,
        target_id=row.id,
        after={"rotated_at": row.secret_rotated_at.isoformat()},
    )
    return IssuedSecret(row, secret)


def open_secret(box: SecretsBox, row: Endpoint) -> str:
    return box.open(row.secret_sealed, secret_context(row.id))
