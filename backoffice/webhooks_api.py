"""Webhooks as JSON under ``/api/v1/webhooks`` (permission ``webhooks.manage``): the endpoints, each
one's delivery log, and replay, for staff tooling that watches deliveries. Secrets never appear here;
registering an endpoint (which shows its secret once) is done on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, Router, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from backoffice.guards import permission
from core.clock import as_utc
from core.web.auth import actor_for, signed_in
from core.web.state import app_services
from webhooks import endpoints, log
from webhooks.errors import DeliveryNotFoundError, EndpointNotFoundError
from webhooks.models import Delivery, DeliveryStatus, Endpoint


@dataclass(frozen=True)
class EndpointAnswer:
    id: int
    url: str
    description: str
    kinds: list[str]
    enabled: bool
    created_at: datetime
    secret_rotated_at: datetime


@dataclass(frozen=True)
class DeliveryAnswer:
    id: int
    event_id: str
    """The id the receiver saw in ``BrokerDesk-Event-Id``."""
    event_kind: str
    occurred_at: datetime
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def _endpoint(row: Endpoint) -> EndpointAnswer:
    return EndpointAnswer(
        id=row.id,
        url=row.url,
        description=row.description,
        kinds=list(row.kinds),
        enabled=row.enabled,
        created_at=as_utc(row.created_at),
        secret_rotated_at=as_utc(row.secret_rotated_at),
    )


def _delivery(row: Delivery, uid: str, kind: str, occurred_at: datetime) -> DeliveryAnswer:
    return DeliveryAnswer(
        id=row.id,
        event_id=uid,
        event_kind=kind,
        occurred_at=as_utc(occurred_at),
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        next_attempt_at=None if row.next_attempt_at is None else as_utc(row.next_attempt_at),
        delivered_at=None if row.delivered_at is None else as_utc(row.delivered_at),
    )


@get("/endpoints", name="webhooks.api.endpoints", summary="Registered webhook endpoints (no secrets)")
async def list_endpoints(request: Request[Any, Any, Any]) -> list[EndpointAnswer]:
    async with app_services(request.app).database.session() as session:
        return [_endpoint(row) for row in await endpoints.list_endpoints(session)]


@get(
    "/endpoints/{endpoint_id:int}/deliveries",
    name="webhooks.api.deliveries",
    summary="One endpoint's deliveries, newest first (at most 200), optionally of one status",
)
async def list_deliveries(
    request: Request[Any, Any, Any],
    endpoint_id: FromPath[int],
    status: FromQuery[DeliveryStatus | None] = None,
) -> list[DeliveryAnswer]:
    async with app_services(request.app).database.session() as session:
        try:
            await endpoints.get_endpoint(session, endpoint_id)
        except EndpointNotFoundError:
            raise NotFoundException(detail="No such webhook endpoint.") from None
        lines = await log.delivery_log(session, endpoint_id, "" if status is None else status.value)
    return [_delivery(line.delivery, line.event_uid, line.event_kind, line.occurred_at) for line in lines]


@post(
    "/endpoints/{endpoint_id:int}/deliveries/{delivery_id:int}/replay",
    name="webhooks.api.replay",
    status_code=202,
    summary="Send a delivery again with the same event id, in a new round of retries",
)
async def replay_delivery(
    request: Request[Any, Any, Any], endpoint_id: FromPath[int], delivery_id: FromPath[int]
) -> DeliveryAnswer:
    async with app_services(request.app).database.transaction() as session:
        try:
            row = await log.replay(
                session, endpoint_id, delivery_id, actor_for(request, signed_in(request).user)
            )
        except DeliveryNotFoundError:
            raise NotFoundException(detail="No such delivery for this endpoint.") from None
        line = await log.delivery_line(session, row.id)
    return _delivery(line.delivery, line.event_uid, line.event_kind, line.occurred_at)


router = Router(
    path="/api/v1/webhooks",
    route_handlers=[list_endpoints, list_deliveries, replay_delivery],
    tags=["webhooks"],
    opt=permission("webhooks.manage"),
)
