"""Announcements to clients (permission ``announcements.manage``): write, schedule, publish, and
see how many clients have read each. The selection and read tracking live in :mod:`comms`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.guards import permission
from backoffice.publishing import Publishing
from backoffice.settings_common import long_form
from comms import announcements
from comms.errors import AnnouncementNotFoundError, InvalidAnnouncementError
from comms.models import Announcement, AnnouncementRead, AnnouncementStatus, Audience
from core.config_store import history
from core.web.auth import actor_for, signed_in
from core.web.forms import form_list
from core.web.state import app_services
from mt_bridge.models import AccountType

PUBLISHING = Publishing(
    set_status=announcements.set_status,
    not_found=AnnouncementNotFoundError,
    published=AnnouncementStatus.PUBLISHED,
    draft=AnnouncementStatus.DRAFT,
    published_message="The announcement is published.",
    draft_message="The announcement is back to draft.",
    page="/settings/announcements/{}",
)


def _local(moment: datetime | None) -> str:
    """A stored moment as a ``datetime-local`` field value, in UTC."""
    if moment is None:
        return ""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M")


def _values(row: Announcement) -> dict[str, str]:
    return {
        "title_en": row.title_en,
        "body_en": row.body_en,
        "title_zh_hans": row.title_zh_hans,
        "body_zh_hans": row.body_zh_hans,
        "audience": row.audience,
        "countries": ", ".join(row.audience_values) if row.audience == Audience.COUNTRIES else "",
        "account_types": ",".join(row.audience_values) if row.audience == Audience.ACCOUNT_TYPES else "",
        "starts_at": _local(row.starts_at),
        "ends_at": _local(row.ends_at),
    }


async def _account_types(session: AsyncSession) -> list[AccountType]:
    return list(await session.scalars(select(AccountType).order_by(AccountType.name)))


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await long_form(request)
    form["account_types"] = ",".join(await form_list(request, "account_types"))
    return form


class AnnouncementsController(Controller):
    path = "/settings/announcements"
    include_in_schema = False
    opt = permission("announcements.manage")

    @get("/", name="backoffice.announcements")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        async with app_services(request.app).database.session() as session:
            rows = await announcements.list_for_staff(session)
        return Template("settings/announcements.html", context={"rows": rows, "now": datetime.now(UTC)})

    async def _editor(
        self,
        request: Request[Any, Any, Any],
        row: Announcement | None,
        *,
        values: dict[str, str] | None = None,
        error: str = "",
        error_field: str = "",
        status_code: int = 200,
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            types = await _account_types(session)
            reads = 0
            changes: list[Any] = []
            if row is not None:
                reads = int(
                    await session.scalar(
                        select(func.count())
                        .select_from(AnnouncementRead)
                        .where(AnnouncementRead.announcement_id == row.id)
                    )
                    or 0
                )
                changes = list(await history(session, str(row.id), target_type=announcements.AUDIT_TARGET))
        defaults = {"audience": Audience.ALL.value, "starts_at": _local(datetime.now(UTC))}
        context = {
            "row": row,
            "values": {**(defaults if row is None else _values(row)), **(values or {})},
            "audiences": [a.value for a in Audience],
            "account_types": types,
            "reads": reads,
            "changes": changes,
            "error": error,
            "error_field": error_field,
        }
        return Template("settings/announcement_form.html", context=context, status_code=status_code)

    @get("/new", name="backoffice.announcements.new")
    async def new(self, request: Request[Any, Any, Any]) -> Template:
        return await self._editor(request, None)

    @post("/", name="backoffice.announcements.create")
    async def create(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await _form(request)
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                types = [t.id for t in await _account_types(session)]
                data = announcements.parse_announcement(form, types)
                row = await announcements.create_announcement(session, data, actor_for(request, me.user))
        except InvalidAnnouncementError as exc:
            return await self._editor(
                request, None, values=form, error=str(exc), error_field=exc.field, status_code=400
            )
        flash(
            request, "The announcement is saved as a draft; publish it when it is ready.", category="success"
        )
        return Redirect(f"/settings/announcements/{row.id}", status_code=303)

    async def _row(self, request: Request[Any, Any, Any], announcement_id: int) -> Announcement:
        async with app_services(request.app).database.session() as session:
            try:
                return await announcements.get_announcement(session, announcement_id)
            except AnnouncementNotFoundError:
                raise NotFoundException() from None

    @get("/{announcement_id:int}", name="backoffice.announcements.edit")
    async def edit(self, request: Request[Any, Any, Any], announcement_id: FromPath[int]) -> Template:
        return await self._editor(request, await self._row(request, announcement_id))

    @post("/{announcement_id:int}", name="backoffice.announcements.update")
    async def update(
        self, request: Request[Any, Any, Any], announcement_id: FromPath[int]
    ) -> Template | Redirect:
        row = await self._row(request, announcement_id)
        form = await _form(request)
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                types = [t.id for t in await _account_types(session)]
                data = announcements.parse_announcement(form, types)
                await announcements.update_announcement(
                    session, announcement_id, data, actor_for(request, me.user)
                )
        except InvalidAnnouncementError as exc:
            return await self._editor(
                request, row, values=form, error=str(exc), error_field=exc.field, status_code=400
            )
        flash(request, "The announcement has been saved.", category="success")
        return Redirect(f"/settings/announcements/{announcement_id}", status_code=303)

    @post("/{announcement_id:int}/publish", name="backoffice.announcements.publish")
    async def publish(self, request: Request[Any, Any, Any], announcement_id: FromPath[int]) -> Redirect:
        return await PUBLISHING.publish(request, announcement_id)

    @post("/{announcement_id:int}/unpublish", name="backoffice.announcements.unpublish")
    async def unpublish(self, request: Request[Any, Any, Any], announcement_id: FromPath[int]) -> Redirect:
        return await PUBLISHING.unpublish(request, announcement_id)
