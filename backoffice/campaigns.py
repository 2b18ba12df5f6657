"""Campaigns (permission ``campaigns.manage``): write a marketing mail for a saved segment,
preview it, send it now or schedule it, cancel it, and read its results. The rules live in
:mod:`comms.campaigns`; the sending job in :mod:`comms.campaign_sending`."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.guards import permission
from backoffice.settings_common import long_form
from comms import campaigns
from comms.campaign_models import Campaign, CampaignRecipient, CampaignStatus
from comms.errors import CampaignError, CampaignNotFoundError, InvalidCampaignError
from core.company import load_company
from core.config_store import history
from core.identity.models import User
from core.mail.templates import render_strings
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields
from core.web.state import app_services
from crm import segments
from crm.models import Segment

RESULT_ROWS = 200
FIELDS = (
    "name",
    "segment_id",
    "subject_en",
    "body_en",
    "subject_zh_hans",
    "body_zh_hans",
    "mails_per_minute",
)


def _values(row: Campaign) -> dict[str, str]:
    return {name: str(getattr(row, name) or "") for name in FIELDS}


async def _segment_ids(session: AsyncSession, staff_id: int) -> list[int]:
    return [s.id for s in await segments.visible_segments(session, staff_id)]


class CampaignsController(Controller):
    path = "/campaigns"
    include_in_schema = False
    opt = permission("campaigns.manage")

    @get("/", name="backoffice.campaigns")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        async with app_services(request.app).database.session() as session:
            rows = list(await campaigns.list_campaigns(session))
            counts = {row.id: await campaigns.campaign_counts(session, row.id) for row in rows}
            names = {sid: name for sid, name in await session.execute(select(Segment.id, Segment.name))}
        return Template(
            "campaigns/list.html", context={"rows": rows, "counts": counts, "segment_names": names}
        )

    async def _page(
        self,
        request: Request[Any, Any, Any],
        row: Campaign | None,
        *,
        values: dict[str, str] | None = None,
        error: str = "",
        error_field: str = "",
        status_code: int = 200,
    ) -> Template:
        me = signed_in(request)
        async with app_services(request.app).database.session() as session:
            visible = list(await segments.visible_segments(session, me.user.id))
            counts = results = changes = None
            if row is not None:
                counts = await campaigns.campaign_counts(session, row.id)
                results = (
                    await session.execute(
                        select(CampaignRecipient, User.email)
                        .join(User, User.id == CampaignRecipient.client_id)
                        .where(CampaignRecipient.campaign_id == row.id)
                        .order_by(CampaignRecipient.id)
                        .limit(RESULT_ROWS)
                    )
                ).all()
                changes = list(await history(session, str(row.id), target_type=campaigns.AUDIT_TARGET))
        defaults = {"mails_per_minute": str(campaigns.DEFAULT_RATE)}
        context = {
            "row": row,
            "values": {**(defaults if row is None else _values(row)), **(values or {})},
            "segments": visible,
            "counts": counts,
            "results": results or [],
            "result_limit": RESULT_ROWS,
            "changes": changes or [],
            "error": error,
            "error_field": error_field,
            "editable": row is None or row.status == CampaignStatus.DRAFT,
        }
        return Template("campaigns/campaign.html", context=context, status_code=status_code)

    async def _row(self, request: Request[Any, Any, Any], campaign_id: int) -> Campaign:
        async with app_services(request.app).database.session() as session:
            try:
                return await campaigns.get_campaign(session, campaign_id)
            except CampaignNotFoundError:
                raise NotFoundException() from None

    async def _checked(
        self, session: AsyncSession, request: Request[Any, Any, Any], form: dict[str, str]
    ) -> campaigns.CampaignInput:
        me = signed_in(request)
        data = campaigns.parse_campaign(form, await _segment_ids(session, me.user.id))
        campaigns.check_templates(data, render_strings, (await load_company(session)).as_json())
        return data

    @get("/new", name="backoffice.campaigns.new")
    async def new(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request, None)

    @post("/", name="backoffice.campaigns.create")
    async def create(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await long_form(request)
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                data = await self._checked(session, request, form)
                row = await campaigns.create_campaign(session, data, actor_for(request, me.user))
        except InvalidCampaignError as exc:
            return await self._page(
                request, None, values=form, error=str(exc), error_field=exc.field, status_code=400
            )
        flash(
            request,
            "The campaign is saved as a draft: preview it, then send or schedule it.",
            category="success",
        )
        return Redirect(f"/campaigns/{row.id}", status_code=303)

    @get("/{campaign_id:int}", name="backoffice.campaigns.show")
    async def show(self, request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> Template:
        return await self._page(request, await self._row(request, campaign_id))

    @post("/{campaign_id:int}", name="backoffice.campaigns.update")
    async def update(
        self, request: Request[Any, Any, Any], campaign_id: FromPath[int]
    ) -> Template | Redirect:
        row = await self._row(request, campaign_id)
        form = await long_form(request)
        me = signed_in(request)
        try:
            campaigns.require_editable(row)
            async with app_services(request.app).database.transaction() as session:
                data = await self._checked(session, request, form)
                await campaigns.update_campaign(session, campaign_id, data, actor_for(request, me.user))
        except CampaignError as exc:
            field = getattr(exc, "field", "")
            return await self._page(
                request, row, values=form, error=str(exc), error_field=field, status_code=400
            )
        flash(request, "The campaign has been saved.", category="success")
        return Redirect(f"/campaigns/{campaign_id}", status_code=303)

    @get("/{campaign_id:int}/preview", name="backoffice.campaigns.preview")
    async def preview(self, request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> Template:
        row = await self._row(request, campaign_id)
        settings = app_services(request.app).settings
        async with app_services(request.app).database.session() as session:
            company = (await load_company(session)).as_json()
        error, shown = "", {}
        try:
            shown = campaigns.preview(row, render_strings, company, settings.public_portal_url, "preview")
        except InvalidCampaignError as exc:
            error = str(exc)
        return Template(
            "campaigns/preview.html",
            context={"row": row, "shown": shown, "error": error, "error_field": ""},
            status_code=400 if error else 200,
        )

    @post("/{campaign_id:int}/send", name="backoffice.campaigns.send")
    async def send(self, request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> Template | Redirect:
        row = await self._row(request, campaign_id)
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await campaigns.send_now(session, campaign_id, actor_for(request, me.user))
        except CampaignError as exc:
            return await self._page(request, row, error=str(exc), status_code=400)
        flash(
            request,
            "Sending has started: the segment's clients are mailed at the campaign's rate.",
            category="success",
        )
        return Redirect(f"/campaigns/{campaign_id}", status_code=303)

    @post("/{campaign_id:int}/schedule", name="backoffice.campaigns.schedule")
    async def schedule(
        self, request: Request[Any, Any, Any], campaign_id: FromPath[int]
    ) -> Template | Redirect:
        row = await self._row(request, campaign_id)
        form = await form_fields(request)
        me = signed_in(request)
        try:
            send_at = campaigns.parse_send_at(form.get("send_at", ""))
            async with app_services(request.app).database.transaction() as session:
                await campaigns.schedule_campaign(session, campaign_id, send_at, actor_for(request, me.user))
        except CampaignError as exc:
            field = getattr(exc, "field", "")
            return await self._page(request, row, error=str(exc), error_field=field, status_code=400)
        flash(request, "The campaign is scheduled.", category="success")
        return Redirect(f"/campaigns/{campaign_id}", status_code=303)

    @post("/{campaign_id:int}/cancel", name="backoffice.campaigns.cancel")
    async def cancel(
        self, request: Request[Any, Any, Any], campaign_id: FromPath[int]
    ) -> Template | Redirect:
        row = await self._row(request, campaign_id)
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                done = await campaigns.cancel_campaign(session, campaign_id, actor_for(request, me.user))
        except CampaignError as exc:
            return await self._page(request, row, error=str(exc), status_code=400)
        flash(
            request,
            "The campaign is back to draft."
            if done.status == CampaignStatus.DRAFT
            else "The campaign is cancelled.",
            category="success",
        )
        return Redirect(f"/campaigns/{campaign_id}", status_code=303)
