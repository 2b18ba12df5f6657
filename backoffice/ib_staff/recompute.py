"""The recompute tool: choose a period and (optionally) a draft scheme version; a dry run, computed
by a job (the run's page shows it computing and refreshes itself), shows each IB's diff (published
now, recomputed, difference) and posts nothing; publishing, once staff confirm, runs
:func:`ib.recompute.publish` as a job after the confirmation commits, which writes the changed
lines and posts only the differences to the ledger, once."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from backoffice.ib_staff.common import (
    IB_MANAGE,
    FormError,
    database,
    moment,
    staff_action,
    staff_transaction,
    whole,
)
from backoffice.money import money_formatter
from core.clock import utcnow
from core.web.auth import TOO_MANY, over_money_limit
from core.web.forms import form_fields
from ib import recompute, staff_views
from ib.errors import IbError
from ib.models import RecomputeRun

BACK = "/ib/recompute"


class IbRecomputeController(Controller):
    path = "/ib/recompute"
    include_in_schema = False
    opt = permission(IB_MANAGE)

    @get("/", name="backoffice.ib.recompute")
    async def tool(self, request: Request[Any, Any, Any]) -> Template:
        async with database(request).session() as session:
            context = {
                "drafts": await staff_views.draft_versions(session),
                "runs": await staff_views.recompute_runs(session),
            }
        return Template("ib/recompute.html", context=context)

    @post("/", name="backoffice.ib.recompute.dry_run")
    async def dry_run(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await form_fields(request)
        try:
            start = moment(form.get("period_start", ""), "start of the period")
            end = moment(form.get("period_end", ""), "end of the period")
            draft = whole(form.get("draft_version_id", ""), "scheme version", optional=True)
            async with staff_transaction(request) as (session, actor):
                run = await recompute.request_dry_run(
                    session,
                    period_start=start,
                    period_end=end,
                    draft_version_id=draft,
                    actor=actor,
                    now=utcnow(),
                )
        except (IbError, FormError) as exc:
            flash(request, str(exc), category="error")
            return Redirect(BACK, status_code=303)
        return Redirect(f"{BACK}/{run.id}", status_code=303)

    @get("/{run_id:int}", name="backoffice.ib.recompute.run")
    async def run(self, request: Request[Any, Any, Any], run_id: FromPath[int]) -> Template:
        db = database(request)
        async with db.session() as session:
            run = await session.get(RecomputeRun, run_id)
            if run is None:
                raise NotFoundException()
            rows = list(run.diff.get("published") or run.diff.get("ibs") or [])
            clients = await staff_views.client_of_partner(session, [row["partner_id"] for row in rows])
        context = {
            "run": run,
            "rows": rows,
            "clients": clients,
            "money": await money_formatter(db, {row["currency"] for row in rows}),
        }
        return Template("ib/recompute_run.html", context=context)

    @post("/{run_id:int}/publish", name="backoffice.ib.recompute.publish")
    async def publish(self, request: Request[Any, Any, Any], run_id: FromPath[int]) -> Redirect:
        back = f"{BACK}/{run_id}"
        if await over_money_limit(request, "ib_recompute_publish"):
            flash(request, TOO_MANY, category="error")
            return Redirect(back, status_code=303)

        async def change() -> None:
            async with staff_transaction(request) as (session, actor):
                await recompute.request_publish(session, run_id, actor=actor, now=utcnow())

        done = "Publishing: only the differences are posted, in a moment."
        return await staff_action(request, change, done=done, back=back)
