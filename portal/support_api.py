"""Support tickets as JSON for integrations (and apps): list, open, read one, reply.

The same services as the pages; a signed-in session (cookie plus CSRF header on writes) is
required, another client's ticket is 404, and a refusal names the field and the reason. The JSON
API takes no attachments: files go through the portal's form, where they are checked by content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody

from core import clock
from core.web.auth import actor_for, load_signed_in, requires_sign_in, signed_in
from core.web.state import app_services
from support import tickets
from support.errors import InvalidTicketInputError, TicketNotFoundError, TicketStateError
from support.models import MessageSource, SupportTicket


@dataclass(frozen=True)
class TicketOut:
    """A ticket as its client sees it (statuses: new, open, waiting_on_client, resolved, closed)."""

    id: int
    subject: str
    category: str
    priority: str
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MessageOut:
    """A message of the conversation: ``author`` is ``client`` or ``staff`` (notes are never shown)."""

    id: int
    author: str
    body: str
    source: str
    created_at: datetime
    attachments: list[str]


@dataclass(frozen=True)
class ThreadOut:
    ticket: TicketOut
    messages: list[MessageOut]


def _ticket(ticket: SupportTicket) -> TicketOut:
    return TicketOut(
        id=ticket.id,
        subject=ticket.subject,
        category=ticket.category,
        priority=ticket.priority,
        status=ticket.status,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
    )


def _refused(field: str, detail: str, status_code: int = 400) -> Response[dict[str, Any]]:
    return Response({"status_code": status_code, "detail": detail, "field": field}, status_code=status_code)


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    return value if isinstance(value, str) else ""


async def requires_own_ticket(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Another client's ticket is 404 before the body is even read, so a write to it is refused
    for ownership, never for its shape."""
    me = await load_signed_in(connection)
    ticket_id = connection.path_params.get("ticket_id", "")
    try:
        async with app_services(connection.app).database.session() as session:
            await tickets.owned_ticket(session, int(ticket_id), me.user.id)
    except (TicketNotFoundError, TypeError, ValueError):
        raise NotFoundException("No such ticket.") from None


@get("/tickets", name="portal.api.support.tickets")
async def list_tickets(request: Request[Any, Any, Any]) -> list[TicketOut]:
    """The signed-in client's tickets, most recently active first."""
    async with app_services(request.app).database.session() as session:
        mine = await tickets.client_tickets(session, signed_in(request).user.id)
    return [_ticket(item.ticket) for item in mine]


@post("/tickets", name="portal.api.support.open", status_code=201)
async def open_ticket(request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]) -> Response[Any]:
    """``{"category": "funding", "priority": "normal", "subject": "…", "message": "…"}``."""
    services = app_services(request.app)
    me = signed_in(request)
    try:
        async with services.database.transaction() as session:
            ticket = await tickets.open_ticket(
                session,
                None,  # no file through the JSON API
                client_id=me.user.id,
                category=_text(data, "category"),
                priority=_text(data, "priority"),
                subject=_text(data, "subject"),
                body=_text(data, "message"),
                upload=None,
                max_bytes=services.settings.max_upload_bytes,
                source=MessageSource.API,
                actor=actor_for(request, me.user),
                now=clock.utcnow(),
            )
            body = _ticket(ticket)
    except InvalidTicketInputError as exc:
        return _refused(exc.field, exc.message)
    return Response(body, status_code=201)


@get("/tickets/{ticket_id:int}", name="portal.api.support.ticket", guards=[requires_own_ticket])
async def read_ticket(request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> ThreadOut:
    """One ticket with its conversation."""
    try:
        async with app_services(request.app).database.session() as session:
            thread = await tickets.client_thread(session, ticket_id, signed_in(request).user.id)
    except TicketNotFoundError:
        raise NotFoundException("No such ticket.") from None
    return ThreadOut(
        ticket=_ticket(thread.ticket),
        messages=[
            MessageOut(
                id=item.message.id,
                author=item.message.kind,
                body=item.message.body,
                source=item.message.source,
                created_at=item.message.created_at,
                attachments=[f"/support/{thread.ticket.id}/attachments/{a.id}" for a in item.attachments],
            )
            for item in thread.messages
        ],
    )


@post(
    "/tickets/{ticket_id:int}/replies",
    name="portal.api.support.reply",
    status_code=201,
    guards=[requires_own_ticket],
)
async def reply(
    request: Request[Any, Any, Any], ticket_id: FromPath[int], data: JSONBody[dict[str, Any]]
) -> Response[Any]:
    """``{"message": "…"}``: the ticket goes back to the support team."""
    services = app_services(request.app)
    me = signed_in(request)
    try:
        async with services.database.transaction() as session:
            message = await tickets.client_reply(
                session,
                None,
                ticket_id,
                client_id=me.user.id,
                body=_text(data, "message"),
                upload=None,
                max_bytes=services.settings.max_upload_bytes,
                source=MessageSource.API,
                actor=actor_for(request, me.user),
                now=clock.utcnow(),
            )
            body = {"id": message.id, "ticket_id": ticket_id}
    except TicketNotFoundError:
        raise NotFoundException("No such ticket.") from None
    except InvalidTicketInputError as exc:
        return _refused(exc.field, exc.message)
    except TicketStateError as exc:
        return _refused("status", str(exc))
    return Response(body, status_code=201)


router = Router(
    path="/api/v1/support",
    route_handlers=[list_tickets, open_ticket, read_ticket, reply],
    guards=[requires_sign_in],
    tags=["support"],
)
