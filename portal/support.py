"""Support tickets in the portal: the client's (or IB's) list, a new ticket, the conversation with
replies and attachments, close and reopen.

Controllers read the request and call :mod:`support.tickets`, which checks ownership (another
client's ticket or attachment is 404) and audits every change. Bad input re-renders the form with
the error and status 400, and nothing is stored: no row and no file.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from core import clock
from core.storage import EncryptedFileStore
from core.web.auth import (
    SIGN_IN_HANDLERS,
    TOO_MANY,
    actor_for,
    over_action_limit,
    requires_sign_in,
    signed_in,
)
from core.web.state import app_services
from core.web.stored_files import stored_file_response
from support import tickets
from support.attachments import Upload
from support.errors import (
    AttachmentTooLargeError,
    InvalidTicketInputError,
    TicketNotFoundError,
    TicketStateError,
    UnsupportedAttachmentError,
)
from support.labels import CATEGORY_LABELS, PRIORITY_LABELS, STATUS_LABELS
from support.models import MessageSource, TicketStatus

FIELD_LIMIT = 1000
TOO_LARGE = "The attachment is larger than %(mb)s MB. Please attach a smaller file."


def _store(request: Request[Any, Any, Any]) -> EncryptedFileStore:
    return EncryptedFileStore.from_settings(app_services(request.app).settings)


def _max_mb(request: Request[Any, Any, Any]) -> str:
    return f"{app_services(request.app).settings.max_upload_bytes / (1024 * 1024):g}"


async def read_upload(request: Request[Any, Any, Any], name: str = "attachment") -> Upload | None:
    """The form's file, read to one byte past the limit (so an oversized one is known), or ``None``."""
    upload = (await request.form()).get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(app_services(request.app).settings.max_upload_bytes + 1)
    await upload.close()
    return Upload(filename=upload.filename, data=data)


async def text_field(request: Request[Any, Any, Any], name: str, limit: int | None = FIELD_LIMIT) -> str:
    """A form field read whole (``form_fields`` cuts at 1000 characters, and a cut message must be
    refused, not stored shorter)."""
    value = (await request.form()).get(name)
    text = value if isinstance(value, str) else ""
    return text if limit is None else text[: limit + 1]


def refusal(exc: Exception, request: Request[Any, Any, Any]) -> tuple[str, dict[str, str], str]:
    """(message msgid, its arguments, field) for a refused ticket input."""
    if isinstance(exc, AttachmentTooLargeError):
        return TOO_LARGE, {"mb": _max_mb(request)}, "attachment"
    if isinstance(exc, UnsupportedAttachmentError):
        return str(exc), {}, "attachment"
    if isinstance(exc, InvalidTicketInputError):
        return exc.message, {}, exc.field
    return str(exc), {}, ""


class SupportController(Controller):
    path = "/support"
    include_in_schema = False
    guards = [requires_sign_in]
    exception_handlers = SIGN_IN_HANDLERS

    @get("/", name="portal.support")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        async with app_services(request.app).database.session() as session:
            mine = await tickets.client_tickets(session, signed_in(request).user.id)
        context = {"tickets": mine, "statuses": STATUS_LABELS, "categories": CATEGORY_LABELS}
        return Template("support/index.html", context=context)

    def _new_page(
        self,
        request: Request[Any, Any, Any],
        values: dict[str, str] | None = None,
        *,
        error: str = "",
        error_args: dict[str, str] | None = None,
        field: str = "",
        status_code: int = 200,
    ) -> Template:
        context = {
            "values": values or {"priority": "normal"},
            "categories": CATEGORY_LABELS,
            "priorities": PRIORITY_LABELS,
            "max_mb": _max_mb(request),
            "error": error,
            "error_args": error_args or {},
            "error_field": field,
        }
        return Template("support/new.html", context=context, status_code=status_code)

    @get("/new", name="portal.support.new")
    async def new_form(self, request: Request[Any, Any, Any]) -> Template:
        return self._new_page(request)

    @post("/new", name="portal.support.create")
    async def create(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        values = {
            name: await text_field(request, name, None if name == "message" else FIELD_LIMIT)
            for name in ("category", "priority", "subject", "message")
        }
        if await over_action_limit(request, "support:open_ticket"):
            return self._new_page(request, values, error=TOO_MANY, field="", status_code=429)
        services = app_services(request.app)
        me = signed_in(request)
        try:
            upload = await read_upload(request)
            async with services.database.transaction() as session:
                ticket = await tickets.open_ticket(
                    session,
                    _store(request),
                    client_id=me.user.id,
                    category=values["category"],
                    priority=values["priority"],
                    subject=values["subject"],
                    body=values["message"],
                    upload=upload,
                    max_bytes=services.settings.max_upload_bytes,
                    source=MessageSource.PORTAL,
                    actor=actor_for(request, me.user),
                    now=clock.utcnow(),
                )
        except (InvalidTicketInputError, AttachmentTooLargeError, UnsupportedAttachmentError) as exc:
            message, args, field = refusal(exc, request)
            return self._new_page(
                request, values, error=message, error_args=args, field=field, status_code=400
            )
        flash(request, "Your ticket has been opened. We will answer here and by mail.", category="success")
        return Redirect(f"/support/{ticket.id}", status_code=303)

    async def _thread_page(
        self,
        request: Request[Any, Any, Any],
        ticket_id: int,
        *,
        draft: str = "",
        error: str = "",
        error_args: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        me = signed_in(request)
        try:
            async with app_services(request.app).database.session() as session:
                thread = await tickets.client_thread(session, ticket_id, me.user.id)
        except TicketNotFoundError:
            raise NotFoundException() from None
        context = {
            "thread": thread,
            "ticket": thread.ticket,
            "me_id": me.user.id,
            "statuses": STATUS_LABELS,
            "categories": CATEGORY_LABELS,
            "priorities": PRIORITY_LABELS,
            "closed": thread.ticket.status == TicketStatus.CLOSED.value,
            "reopenable": thread.ticket.status in (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value),
            "max_mb": _max_mb(request),
            "draft": draft,
            "error": error,
            "error_args": error_args or {},
        }
        return Template("support/ticket.html", context=context, status_code=status_code)

    @get("/{ticket_id:int}", name="portal.support.ticket")
    async def ticket_page(self, request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> Template:
        return await self._thread_page(request, ticket_id)

    @post("/{ticket_id:int}/reply", name="portal.support.reply")
    async def reply(self, request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> Template | Redirect:
        body = await text_field(request, "message", None)
        services = app_services(request.app)
        me = signed_in(request)
        try:
            upload = await read_upload(request)
            async with services.database.transaction() as session:
                await tickets.client_reply(
                    session,
                    _store(request),
                    ticket_id,
                    client_id=me.user.id,
                    body=body,
                    upload=upload,
                    max_bytes=services.settings.max_upload_bytes,
                    source=MessageSource.PORTAL,
                    actor=actor_for(request, me.user),
                    now=clock.utcnow(),
                )
        except TicketNotFoundError:
            raise NotFoundException() from None
        except TicketStateError as exc:
            return await self._thread_page(request, ticket_id, draft=body, error=str(exc), status_code=409)
        except (InvalidTicketInputError, AttachmentTooLargeError, UnsupportedAttachmentError) as exc:
            message, args, _field = refusal(exc, request)
            return await self._thread_page(
                request, ticket_id, draft=body, error=message, error_args=args, status_code=400
            )
        flash(request, "Your reply has been sent.", category="success")
        return Redirect(f"/support/{ticket_id}", status_code=303)

    async def _set_open(
        self, request: Request[Any, Any, Any], ticket_id: int, open_it: bool
    ) -> Template | Redirect:
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await tickets.client_set_open(
                    session,
                    ticket_id,
                    client_id=me.user.id,
                    open_it=open_it,
                    actor=actor_for(request, me.user),
                    now=clock.utcnow(),
                )
        except TicketNotFoundError:
            raise NotFoundException() from None
        except TicketStateError as exc:
            return await self._thread_page(request, ticket_id, error=str(exc), status_code=409)
        flash(
            request, "The ticket has been reopened." if open_it else "The ticket has been closed.", "success"
        )
        return Redirect(f"/support/{ticket_id}", status_code=303)

    @post("/{ticket_id:int}/close", name="portal.support.close")
    async def close(self, request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> Template | Redirect:
        return await self._set_open(request, ticket_id, open_it=False)

    @post("/{ticket_id:int}/reopen", name="portal.support.reopen")
    async def reopen(self, request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> Template | Redirect:
        return await self._set_open(request, ticket_id, open_it=True)

    @get("/{ticket_id:int}/attachments/{attachment_id:int}", name="portal.support.attachment")
    async def attachment(
        self, request: Request[Any, Any, Any], ticket_id: FromPath[int], attachment_id: FromPath[int]
    ) -> Response[bytes]:
        me = signed_in(request)
        try:
            async with app_services(request.app).database.session() as session:
                found, data = await tickets.read_attachment(
                    session, _store(request), ticket_id, attachment_id, client_id=me.user.id
                )
        except TicketNotFoundError:
            raise NotFoundException() from None
        return stored_file_response(found.content_type, found.original_name, data)
