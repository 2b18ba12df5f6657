"""CRM work pages: leads (list, new, CSV import, detail, status, owner, conversion), the notes and
tasks of clients and leads, and "My tasks".

``GET /clients/{id}/work`` answers the client 360 page's ``hx-get`` with a fragment, and a whole
page to a browser without htmx. Every read goes through the staff member's data scope: a client
or lead outside it is a 404. The crm services write the audit events. Bad input is a 400 with the
form shown again; an htmx request gets the fragment re-rendered with the message (htmx swaps only
2xx answers), and nothing is written either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.guards import permission, staff_permissions
from core import clock
from core.audit.service import Actor
from core.errors import NotFoundError
from core.identity.accounts import send_verification
from core.identity.models import STAFF, User
from core.mail.outbox import queue_mail
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields
from core.web.state import app_services
from crm import leads, notes, tasks
from crm.errors import CrmError, OutOfScopeError
from crm.mailing import Mailer
from crm.scope import DataScope, data_scope_of
from crm.work_errors import LeadError, LeadImportError
from crm.work_models import Lead
from crm.work_targets import Target, TargetKind, require_target

Reply = Template | Redirect
CLIENTS_READ = "clients.read"
CLIENTS_EDIT = "clients.edit"
LEADS_MANAGE = "leads.manage"
MAX_IMPORT_BYTES = 2_000_000
CRM_MAILER = Mailer(queue_mail=queue_mail, send_verification=send_verification)


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request", "").lower() == "true"


def today() -> date:
    return clock.utcnow().date()


def staff_actor(request: Request[Any, Any, Any]) -> Actor:
    return actor_for(request, signed_in(request).user)


async def scope_of(session: AsyncSession, request: Request[Any, Any, Any]) -> DataScope:
    return await data_scope_of(session, signed_in(request).user.id)


async def assignable_staff(session: AsyncSession, scope: DataScope) -> Sequence[User]:
    """Active staff a lead may be given to: everyone, or the limited member's own reach."""
    query = select(User).where(User.kind == STAFF, User.is_active.is_(True)).order_by(User.email)
    if scope.limited:
        query = query.where(User.id.in_(sorted(scope.owner_ids)))
    return (await session.scalars(query)).all()


async def active_staff(session: AsyncSession) -> Sequence[User]:
    return (
        await session.scalars(
            select(User).where(User.kind == STAFF, User.is_active.is_(True)).order_by(User.email)
        )
    ).all()


async def names_of(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(sorted(wanted))))
    return {int(i): str(e) for i, e in rows.all()}


def not_found(exc: Exception) -> NotFoundException:
    return NotFoundException(detail=str(exc) if isinstance(exc, NotFoundError) else "")


# Notes and tasks of one client or lead --------------------------------------------------------


def work_base(target: Target) -> str:
    return f"/{'clients' if target.kind is TargetKind.CLIENT else 'leads'}/{target.id}/work"


def edit_permission(target: Target) -> str:
    return CLIENTS_EDIT if target.kind is TargetKind.CLIENT else LEADS_MANAGE


async def work_context(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    target: Target,
    *,
    error: str = "",
    notice: str = "",
    form: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the notes-and-tasks fragment shows (the caller checked the scope)."""
    note_rows = await notes.notes_of(session, target)
    task_rows = await tasks.tasks_of(session, target)
    staff = await active_staff(session)
    ids = {n.author_id for n in note_rows} | {t.assignee_id for t in task_rows}
    me = signed_in(request).user
    if target.kind is TargetKind.CLIENT:
        client = await session.get(User, target.id)
        title = client.email if client else f"#{target.id}"
    else:
        lead = await session.get(Lead, target.id)
        title = (lead.name or lead.email) if lead else f"#{target.id}"
    return {
        "kind": target.kind.value,
        "target_id": target.id,
        "title": title,
        "base": work_base(target),
        "notes": note_rows,
        "tasks": task_rows,
        "names": await names_of(session, ids),
        "staff": staff,
        "me_id": me.id,
        "can_edit": edit_permission(target) in await staff_permissions(request),
        "today": today(),
        "error": error,
        "notice": notice,
        "form": form or {},
    }


async def render_work(
    request: Request[Any, Any, Any],
    target: Target,
    *,
    status_code: int = 200,
    error: str = "",
    notice: str = "",
    form: dict[str, str] | None = None,
) -> Template:
    async with app_services(request.app).database.session() as session:
        try:
            await require_target(session, await scope_of(session, request), target)
        except (OutOfScopeError, NotFoundError) as exc:
            raise not_found(exc) from None
        context = await work_context(request, session, target, error=error, notice=notice, form=form)
    vary = {"Vary": "HX-Request"}  # one address, two answers: caches must keep them apart
    if is_htmx(request):
        # htmx swaps only 2xx answers: a refusal is shown in the re-rendered fragment instead
        return Template("crm/_work.html", context=context, status_code=200, headers=vary)
    return Template("crm/work_page.html", context=context, status_code=status_code, headers=vary)


MAX_WORK_FIELD = 20_000


async def work_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The form's fields, cut far above a note's limit (the shared reader cuts at 1,000), so an
    over-long note is refused by the service, never silently shortened."""
    form = await request.form()
    return {k: str(v)[:MAX_WORK_FIELD] for k, v in form.items() if k != "_csrf_token"}


WorkAction = Callable[[AsyncSession, Actor, DataScope, dict[str, str]], Awaitable[object]]


async def act_on_work(
    request: Request[Any, Any, Any], target: Target, action: WorkAction, notice: str
) -> Reply:
    """Run one change to a note or task; answer with the fragment (htmx) or a redirect."""
    form = await work_form(request)
    try:
        async with app_services(request.app).database.transaction() as session:
            scope = await scope_of(session, request)
            await action(session, staff_actor(request), scope, form)
    except (OutOfScopeError, NotFoundError) as exc:
        raise not_found(exc) from None
    except CrmError as exc:
        return await render_work(request, target, status_code=400, error=str(exc), form=form)
    if is_htmx(request):
        return await render_work(request, target, notice=notice)
    flash(request, notice, category="success")
    back = form.get("next", "")
    to_my_tasks = back == "/tasks" or back.startswith("/tasks?")
    return Redirect(back if to_my_tasks else work_base(target), status_code=303)


def note_adder(target: Target) -> WorkAction:
    async def run(session: AsyncSession, actor: Actor, scope: DataScope, form: dict[str, str]) -> object:
        return await notes.add_note(
            session, actor, scope, target, form.get("body", ""), pinned=form.get("pinned") == "1"
        )

    return run


def note_pinner(target: Target, note_id: int) -> WorkAction:
    async def run(session: AsyncSession, actor: Actor, scope: DataScope, form: dict[str, str]) -> object:
        return await notes.set_pinned(session, actor, scope, target, note_id, form.get("pinned") == "1")

    return run


def task_adder(target: Target) -> WorkAction:
    async def run(session: AsyncSession, actor: Actor, scope: DataScope, form: dict[str, str]) -> object:
        return await tasks.add_task(
            session,
            actor,
            scope,
            target,
            title=form.get("title", ""),
            due_on=form.get("due_on", ""),
            assignee_id=form.get("assignee_id", ""),
            priority=form.get("priority", ""),
            today=today(),
        )

    return run


def task_status_setter(target: Target, task_id: int) -> WorkAction:
    async def run(session: AsyncSession, actor: Actor, scope: DataScope, form: dict[str, str]) -> object:
        return await tasks.set_task_status(session, actor, scope, target, task_id, form.get("status", ""))

    return run


class ClientWorkController(Controller):
    """The notes and tasks of one client; the 360 page includes ``GET`` as an htmx fragment."""

    path = "/clients/{client_id:int}/work"
    include_in_schema = False

    @get("/", name="backoffice.crm.client_work", opt=permission(CLIENTS_READ))
    async def page(self, request: Request[Any, Any, Any], client_id: FromPath[int]) -> Template:
        return await render_work(request, Target.client(client_id))

    @post("/notes", name="backoffice.crm.client_work.note", opt=permission(CLIENTS_EDIT))
    async def add_note(self, request: Request[Any, Any, Any], client_id: FromPath[int]) -> Reply:
        target = Target.client(client_id)
        return await act_on_work(request, target, note_adder(target), "Note added.")

    @post("/notes/{note_id:int}/pin", name="backoffice.crm.client_work.pin", opt=permission(CLIENTS_EDIT))
    async def pin_note(
        self, request: Request[Any, Any, Any], client_id: FromPath[int], note_id: FromPath[int]
    ) -> Reply:
        target = Target.client(client_id)
        return await act_on_work(request, target, note_pinner(target, note_id), "Note saved.")

    @post("/tasks", name="backoffice.crm.client_work.task", opt=permission(CLIENTS_EDIT))
    async def add_task(self, request: Request[Any, Any, Any], client_id: FromPath[int]) -> Reply:
        target = Target.client(client_id)
        return await act_on_work(request, target, task_adder(target), "Task added.")

    @post(
        "/tasks/{task_id:int}/status",
        name="backoffice.crm.client_work.task_status",
        opt=permission(CLIENTS_EDIT),
    )
    async def task_status(
        self, request: Request[Any, Any, Any], client_id: FromPath[int], task_id: FromPath[int]
    ) -> Reply:
        target = Target.client(client_id)
        return await act_on_work(request, target, task_status_setter(target, task_id), "Task saved.")


class LeadWorkController(Controller):
    """The notes and tasks of one lead (the lead page shows the same fragment)."""

    path = "/leads/{lead_id:int}/work"
    include_in_schema = False

    @get("/", name="backoffice.crm.lead_work", opt=permission(CLIENTS_READ))
    async def page(self, request: Request[Any, Any, Any], lead_id: FromPath[int]) -> Template:
        return await render_work(request, Target.lead(lead_id))

    @post("/notes", name="backoffice.crm.lead_work.note", opt=permission(LEADS_MANAGE))
    async def add_note(self, request: Request[Any, Any, Any], lead_id: FromPath[int]) -> Reply:
        target = Target.lead(lead_id)
        return await act_on_work(request, target, note_adder(target), "Note added.")

    @post("/notes/{note_id:int}/pin", name="backoffice.crm.lead_work.pin", opt=permission(LEADS_MANAGE))
    async def pin_note(
        self, request: Request[Any, Any, Any], lead_id: FromPath[int], note_id: FromPath[int]
    ) -> Reply:
        target = Target.lead(lead_id)
        return await act_on_work(request, target, note_pinner(target, note_id), "Note saved.")

    @post("/tasks", name="backoffice.crm.lead_work.task", opt=permission(LEADS_MANAGE))
    async def add_task(self, request: Request[Any, Any, Any], lead_id: FromPath[int]) -> Reply:
        target = Target.lead(lead_id)
        return await act_on_work(request, target, task_adder(target), "Task added.")

    @post(
        "/tasks/{task_id:int}/status",
        name="backoffice.crm.lead_work.task_status",
        opt=permission(LEADS_MANAGE),
    )
    async def task_status(
        self, request: Request[Any, Any, Any], lead_id: FromPath[int], task_id: FromPath[int]
    ) -> Reply:
        target = Target.lead(lead_id)
        return await act_on_work(request, target, task_status_setter(target, task_id), "Task saved.")


# My tasks -------------------------------------------------------------------------------------


class MyTasksController(Controller):
    path = "/tasks"
    include_in_schema = False

    @get("/", name="backoffice.crm.my_tasks", opt=permission(CLIENTS_READ))
    async def page(self, request: Request[Any, Any, Any]) -> Template:
        show = (request.query_params.get("show") or "open").strip()
        if show not in tasks.MY_TASK_FILTERS:
            show = "open"
        me = signed_in(request).user
        async with app_services(request.app).database.session() as session:
            rows = await tasks.my_tasks(session, me.id, today(), show)
        held = await staff_permissions(request)
        return Template(
            "crm/tasks.html",
            context={
                "rows": rows,
                "show": show,
                "filters": tasks.MY_TASK_FILTERS,
                "can_edit": {"client": CLIENTS_EDIT in held, "lead": LEADS_MANAGE in held},
                "overdue": sum(1 for r in rows if r.overdue),
            },
        )


# Leads ----------------------------------------------------------------------------------------


def lead_filter(request: Request[Any, Any, Any]) -> leads.LeadFilter:
    query = request.query_params
    status = (query.get("status") or "").strip()
    source = (query.get("source") or "").strip()
    raw_owner = (query.get("owner") or "").strip()
    raw_page = (query.get("page") or "1").strip()
    owner_id = (
        signed_in(request).user.id if raw_owner == "me" else int(raw_owner) if raw_owner.isdigit() else None
    )
    return leads.LeadFilter(
        status=status if status in {s.value for s in leads.LeadStatus} else "",
        source=source if source in {s.value for s in leads.LeadSource} else "",
        owner_id=owner_id,
        text=(query.get("q") or "").strip()[:100],
        page=min(int(raw_page), 100_000) if raw_page.isdigit() and raw_page != "0" else 1,
    )


def parse_owner(raw: str) -> int | None:
    """The owner field: a staff id, or empty for nobody; anything else names no staff member."""
    text = raw.strip()
    if not text:
        return None
    if not text.isdigit():
        raise LeadError("owner: choose a staff member")
    return int(text)


class LeadsController(Controller):
    path = "/leads"
    include_in_schema = False

    @get("/", name="backoffice.crm.leads", opt=permission(CLIENTS_READ))
    async def list_leads(self, request: Request[Any, Any, Any]) -> Template:
        filters = lead_filter(request)
        async with app_services(request.app).database.session() as session:
            scope = await scope_of(session, request)
            rows, total = await leads.list_leads(session, scope, filters)
            counts = await leads.pipeline_counts(session, scope)
            names = await names_of(session, {r.owner_id for r in rows})
            owners = await assignable_staff(session, scope)
        query = {k: v for k, v in request.query_params.items() if k != "page"}
        return Template(
            "crm/leads.html",
            context={
                "rows": rows,
                "total": total,
                "counts": counts,
                "names": names,
                "owners": owners,
                "filters": filters,
                "raw": dict(request.query_params),
                "query": urlencode(query),
                "pages": max(1, -(-total // leads.PAGE_SIZE)),
                "statuses": [s.value for s in leads.LeadStatus],
                "sources": [s.value for s in leads.LeadSource],
                "can_manage": LEADS_MANAGE in await staff_permissions(request),
            },
        )

    async def _form_page(
        self, request: Request[Any, Any, Any], template: str, status_code: int = 200, **extra: Any
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            owners = await assignable_staff(session, await scope_of(session, request))
        context = {"owners": owners, "me_id": signed_in(request).user.id, "error": "", "form": {}, **extra}
        return Template(template, context=context, status_code=status_code)

    @get("/new", name="backoffice.crm.leads.new", opt=permission(LEADS_MANAGE))
    async def new_form(self, request: Request[Any, Any, Any]) -> Template:
        return await self._form_page(request, "crm/lead_new.html")

    @post("/new", name="backoffice.crm.leads.create", opt=permission(LEADS_MANAGE))
    async def create(self, request: Request[Any, Any, Any]) -> Reply:
        form = await form_fields(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                lead = await leads.create_lead(
                    session,
                    staff_actor(request),
                    await scope_of(session, request),
                    form,
                    parse_owner(form.get("owner_id", "")),
                )
        except CrmError as exc:
            return await self._form_page(request, "crm/lead_new.html", 400, error=str(exc), form=form)
        flash(request, "Lead created.", category="success")
        return Redirect(f"/leads/{lead.id}", status_code=303)

    @get("/import", name="backoffice.crm.leads.import", opt=permission(LEADS_MANAGE))
    async def import_form(self, request: Request[Any, Any, Any]) -> Template:
        return await self._form_page(request, "crm/lead_import.html", row_errors=[])

    @post("/import", name="backoffice.crm.leads.import_run", opt=permission(LEADS_MANAGE))
    async def import_run(self, request: Request[Any, Any, Any]) -> Reply:
        form = await request.form()
        upload = form.get("file")
        raw_owner = form.get("owner_id")
        owner_text = raw_owner if isinstance(raw_owner, str) else ""
        row_errors: list[tuple[int, str]] = []
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise LeadError("file: choose a CSV file")
            data = await upload.read()
            if len(data) > MAX_IMPORT_BYTES:
                raise LeadError("file: a CSV file of at most 2 MB")
            async with app_services(request.app).database.transaction() as session:
                result = await leads.import_leads_csv(
                    session,
                    staff_actor(request),
                    await scope_of(session, request),
                    data,
                    parse_owner(owner_text),
                )
        except LeadImportError as exc:
            row_errors = exc.errors
            error = str(exc)
        except CrmError as exc:
            error = str(exc)
        else:
            flash(request, f"Imported {len(result.created)} lead(s).", category="success")
            return Redirect("/leads", status_code=303)
        return await self._form_page(
            request,
            "crm/lead_import.html",
            400,
            error=error,
            row_errors=row_errors,
            form={"owner_id": owner_text},
        )

    @get("/{lead_id:int}", name="backoffice.crm.lead", opt=permission(CLIENTS_READ))
    async def detail(self, request: Request[Any, Any, Any], lead_id: FromPath[int]) -> Template:
        return await self._detail(request, lead_id)

    async def _detail(
        self, request: Request[Any, Any, Any], lead_id: int, *, status_code: int = 200, error: str = ""
    ) -> Template:
        target = Target.lead(lead_id)
        async with app_services(request.app).database.session() as session:
            scope = await scope_of(session, request)
            try:
                lead = await leads.get_lead(session, scope, lead_id)
            except NotFoundError as exc:
                raise not_found(exc) from None
            work = await work_context(request, session, target)
            owners = await assignable_staff(session, scope)
            names = await names_of(session, {lead.owner_id, lead.created_by})
        context = {
            **work,
            "lead": lead,
            "owners": owners,
            "lead_names": names,
            "next_statuses": leads.allowed_next(lead.status),
            "can_convert": lead.status == leads.LeadStatus.QUALIFIED,
            "can_manage": LEADS_MANAGE in await staff_permissions(request),
            "lead_error": error,
        }
        return Template("crm/lead.html", context=context, status_code=status_code)

    async def _change(
        self,
        request: Request[Any, Any, Any],
        lead_id: int,
        change: Callable[[AsyncSession, Actor, DataScope, dict[str, str]], Awaitable[str]],
    ) -> Reply:
        form = await form_fields(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                notice = await change(session, staff_actor(request), await scope_of(session, request), form)
        except NotFoundError as exc:
            raise not_found(exc) from None
        except CrmError as exc:
            return await self._detail(request, lead_id, status_code=400, error=str(exc))
        flash(request, notice, category="success")
        return Redirect(f"/leads/{lead_id}", status_code=303)

    @post("/{lead_id:int}/status", name="backoffice.crm.lead.status", opt=permission(LEADS_MANAGE))
    async def set_status(self, request: Request[Any, Any, Any], lead_id: FromPath[int]) -> Reply:
        async def change(session: AsyncSession, actor: Actor, scope: DataScope, form: dict[str, str]) -> str:
            await leads.change_status(session, actor, scope, lead_id, form.get("status", ""))
            return "Lead status saved."

        return await self._change(request, lead_id, change)

    @post("/{lead_id:int}/owner", name="backoffice.crm.lead.owner", opt=permission(LEADS_MANAGE))
    async def set_owner(self, request: Request[Any, Any, Any], lead_id: FromPath[int]) -> Reply:
        async def change(session: AsyncSession, actor: Actor, scope: DataScope, form: dict[str, str]) -> str:
            await leads.assign_lead(session, actor, scope, lead_id, parse_owner(form.get("owner_id", "")))
            return "Lead owner saved."

        return await self._change(request, lead_id, change)

    @post("/{lead_id:int}/convert", name="backoffice.crm.lead.convert", opt=permission(LEADS_MANAGE))
    async def convert(self, request: Request[Any, Any, Any], lead_id: FromPath[int]) -> Reply:
        settings = app_services(request.app).settings

        async def change(session: AsyncSession, actor: Actor, scope: DataScope, form: dict[str, str]) -> str:
            done = await leads.convert_lead(session, settings, CRM_MAILER, actor, scope, lead_id)
            if done.created_client:
                return "Lead converted: client account created and invitation mailed."
            return "Lead converted and linked to the existing client."

        return await self._change(request, lead_id, change)


CONTROLLERS = (LeadsController, LeadWorkController, ClientWorkController, MyTasksController)
