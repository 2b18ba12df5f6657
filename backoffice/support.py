"""The support queue and ticket pages (``support.manage``), canned replies and SLA targets
(``support.settings``).

Controllers read the request and call :mod:`support`, which audits every change in the same
transaction; bad input re-renders the page with the error and status 400, and nothing is written.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from backoffice.paging import page_links
from core import clock
from core.identity.models import User
from core.mail.outbox import queue_mail
from core.storage import EncryptedFileStore
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields
from core.web.state import app_services
from core.web.stored_files import stored_file_response
from support import canned, queue, sla, tickets
from support.errors import CannedReplyNotFoundError, InvalidTicketInputError, TicketNotFoundError
from support.labels import CATEGORY_LABELS, PRIORITY_LABELS, STATUS_LABELS
from support.mailing import reply_address, reply_domain
from support.models import TicketPriority

MANAGE = "support.manage"
SETTINGS = "support.settings"
PAGE_SIZE = 50


def _page(request: Request[Any, Any, Any]) -> int:
    raw = request.query_params.get("page") or "1"
    return max(1, min(int(raw), 100_000)) if raw.isdigit() and len(raw) < 7 else 1


async def _whole_field(request: Request[Any, Any, Any], name: str) -> str:
    """Read whole: ``form_fields`` cuts at 1000 characters, and a cut reply must be refused."""
    value = (await request.form()).get(name)
    return value if isinstance(value, str) else ""


class SupportQueueController(Controller):
    """The queue and each ticket's page: reply, internal note, assignment, status."""

    path = "/support"
    include_in_schema = False
    opt = permission(MANAGE)

    @get("/", name="backoffice.support.queue")
    async def queue_page(self, request: Request[Any, Any, Any]) -> Template:
        filters = queue.parse_filter(dict(request.query_params))
        page = _page(request)
        me = signed_in(request)
        now = clock.utcnow()
        async with app_services(request.app).database.session() as session:
            rows = await queue.list_queue(
                session, filters, me_id=me.user.id, now=now, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
            )
            total = await queue.count_queue(session, filters, me_id=me.user.id, now=now)
            staff = await queue.assignable_staff(session)
        base = {
            "status": filters.status,
            "priority": filters.priority,
            "category": filters.category,
            "assignee": filters.assignee,
            "breached": "1" if filters.breached else "",
        }
        context = {
            "rows": rows,
            "filters": filters,
            **page_links(base, page, total, PAGE_SIZE),
            "statuses": STATUS_LABELS,
            "priorities": PRIORITY_LABELS,
            "categories": CATEGORY_LABELS,
            "staff": staff,
        }
        return Template("support/queue.html", context=context)

    async def _ticket_page(
        self,
        request: Request[Any, Any, Any],
        ticket_id: int,
        *,
        error: str = "",
        field: str = "",
        draft: str = "",
        status_code: int = 200,
    ) -> Template:
        services = app_services(request.app)
        async with services.database.session() as session:
            try:
                thread = await queue.staff_thread(session, ticket_id)
            except TicketNotFoundError:
                raise NotFoundException() from None
            staff = await queue.assignable_staff(session)
            replies = await canned.list_canned(session, active_only=True)
            client = await session.get(User, thread.ticket.client_id)
        context = {
            "thread": thread,
            "ticket": thread.ticket,
            "client": client,
            "sla": sla.sla_state(thread.ticket, clock.utcnow()),
            "staff": staff,
            "canned": replies,
            "me_id": signed_in(request).user.id,
            "statuses": STATUS_LABELS,
            "priorities": PRIORITY_LABELS,
            "categories": CATEGORY_LABELS,
            "reply_to": reply_address(thread.ticket, reply_domain(services.settings)),
            "error": error,
            "error_field": field,
            "draft": draft,
        }
        return Template("support/ticket.html", context=context, status_code=status_code)

    @get("/{ticket_id:int}", name="backoffice.support.ticket")
    async def ticket_page(self, request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> Template:
        return await self._ticket_page(request, ticket_id)

    async def _change(
        self, request: Request[Any, Any, Any], ticket_id: int, change: Any, done: str, draft: str = ""
    ) -> Template | Redirect:
        try:
            async with app_services(request.app).database.transaction() as session:
                await change(session)
        except TicketNotFoundError:
            raise NotFoundException() from None
        except InvalidTicketInputError as exc:
            return await self._ticket_page(
                request, ticket_id, error=exc.message, field=exc.field, draft=draft, status_code=400
            )
        flash(request, done, category="success")
        return Redirect(f"/support/{ticket_id}", status_code=303)

    @post("/{ticket_id:int}/reply", name="backoffice.support.reply")
    async def reply(self, request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> Template | Redirect:
        form = await form_fields(request)
        body = await _whole_field(request, "message")
        services = app_services(request.app)
        me = signed_in(request)

        async def change(session: Any) -> None:
            text = body if body.strip() else await queue.canned_body(session, form.get("canned", ""))
            await queue.staff_reply(
                session,
                ticket_id,
                body=text,
                status=form.get("status", ""),
                actor=actor_for(request, me.user),
                queue_mail=queue_mail,
                settings=services.settings,
                now=clock.utcnow(),
            )

        return await self._change(request, ticket_id, change, "Reply sent to the client.", draft=body)

    @post("/{ticket_id:int}/note", name="backoffice.support.note")
    async def note(self, request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> Template | Redirect:
        body = await _whole_field(request, "note")
        me = signed_in(request)
        return await self._change(
            request,
            ticket_id,
            lambda session: queue.add_note(
                session, ticket_id, body=body, actor=actor_for(request, me.user), now=clock.utcnow()
            ),
            "Internal note added.",
        )

    @post("/{ticket_id:int}/assign", name="backoffice.support.assign")
    async def assign(self, request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> Template | Redirect:
        form = await form_fields(request)
        me = signed_in(request)
        raw = (form.get("assignee") or "").strip()
        if raw == queue.ASSIGNEE_ME:
            assignee: int | None = me.user.id
        elif raw in {"", queue.ASSIGNEE_NONE}:
            assignee = None
        elif raw.isdigit() and len(raw) < 19:
            assignee = int(raw)
        else:
            return await self._ticket_page(
                request,
                ticket_id,
                error="Choose a staff member who handles support tickets.",
                field="assignee",
                status_code=400,
            )
        return await self._change(
            request,
            ticket_id,
            lambda session: queue.assign(
                session, ticket_id, assignee, actor_for(request, me.user), clock.utcnow()
            ),
            "Ticket assigned." if assignee is not None else "Ticket unassigned.",
        )

    @post("/{ticket_id:int}/status", name="backoffice.support.status")
    async def status(self, request: Request[Any, Any, Any], ticket_id: FromPath[int]) -> Template | Redirect:
        form = await form_fields(request)
        me = signed_in(request)
        return await self._change(
            request,
            ticket_id,
            lambda session: queue.set_status(
                session, ticket_id, form.get("status", ""), actor_for(request, me.user), clock.utcnow()
            ),
            "Status changed.",
        )

    @get("/{ticket_id:int}/attachments/{attachment_id:int}", name="backoffice.support.attachment")
    async def attachment(
        self, request: Request[Any, Any, Any], ticket_id: FromPath[int], attachment_id: FromPath[int]
    ) -> Response[bytes]:
        store = EncryptedFileStore.from_settings(app_services(request.app).settings)
        try:
            async with app_services(request.app).database.session() as session:
                found, data = await tickets.read_attachment(
                    session, store, ticket_id, attachment_id, client_id=None
                )
        except TicketNotFoundError:
            raise NotFoundException() from None
        return stored_file_response(found.content_type, found.original_name, data)


SLA_FIELDS = tuple(f"{p.value}_{part}" for p in TicketPriority for part in ("first_response", "resolution"))


class SupportSettingsController(Controller):
    """Canned replies and the SLA targets per priority."""

    path = "/support/settings"
    include_in_schema = False
    opt = permission(SETTINGS)

    async def _page(
        self,
        request: Request[Any, Any, Any],
        *,
        sla_values: dict[str, str] | None = None,
        error: str = "",
        field: str = "",
        status_code: int = 200,
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            replies = await canned.list_canned(session, active_only=False)
            targets = await sla.load_targets(session)
        values = sla_values or {
            f"{priority}_{part}": str(getattr(target, f"{part}_minutes"))
            for priority, target in targets.items()
            for part in ("first_response", "resolution")
        }
        context = {
            "canned": replies,
            "sla_values": values,
            "priorities": PRIORITY_LABELS,
            "error": error,
            "error_field": field,
        }
        return Template("support/settings.html", context=context, status_code=status_code)

    @get("/", name="backoffice.support.settings")
    async def settings_page(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    @post("/sla", name="backoffice.support.settings.sla")
    async def save_sla(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        values = {name: form.get(name, "") for name in SLA_FIELDS}
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await sla.save_targets(session, values, actor_for(request, me.user))
        except InvalidTicketInputError as exc:
            return await self._page(
                request, sla_values=values, error=exc.message, field=exc.field, status_code=400
            )
        flash(request, "SLA targets saved. New tickets use them.", category="success")
        return Redirect("/support/settings", status_code=303)

    async def _save_canned(
        self, request: Request[Any, Any, Any], reply_id: int | None
    ) -> Template | Redirect:
        form = await form_fields(request)
        body = await _whole_field(request, "body")
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await canned.save_canned(
                    session,
                    reply_id,
                    title=form.get("title", ""),
                    body=body,
                    active=form.get("active", "") == "1" if reply_id is not None else True,
                    actor=actor_for(request, me.user),
                    now=clock.utcnow(),
                )
        except CannedReplyNotFoundError:
            raise NotFoundException() from None
        except InvalidTicketInputError as exc:
            return await self._page(request, error=exc.message, field=exc.field, status_code=400)
        flash(request, "Canned reply saved.", category="success")
        return Redirect("/support/settings", status_code=303)

    @post("/canned", name="backoffice.support.canned.create")
    async def create_canned(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        return await self._save_canned(request, None)

    @post("/canned/{reply_id:int}", name="backoffice.support.canned.update")
    async def update_canned(
        self, request: Request[Any, Any, Any], reply_id: FromPath[int]
    ) -> Template | Redirect:
        return await self._save_canned(request, reply_id)

    @post("/canned/{reply_id:int}/delete", name="backoffice.support.canned.delete")
    async def delete_canned(self, request: Request[Any, Any, Any], reply_id: FromPath[int]) -> Redirect:
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await canned.delete_canned(session, reply_id, actor_for(request, me.user))
        except CannedReplyNotFoundError:
            raise NotFoundException() from None
        flash(request, "Canned reply deleted.", category="success")
        return Redirect("/support/settings", status_code=303)
