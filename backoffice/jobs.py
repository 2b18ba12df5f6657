"""Dead-letter jobs (permission ``jobs.manage``): jobs that ran out of retries, to retry or discard.

Retry re-sends the job by actor name (through ``core.jobs``, after the row is marked); discard
marks it given up. Both are audited by :mod:`core.dead_letters` with before and after.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from core.dead_letters import (
    DeadLetterError,
    DeadLetterStatus,
    dead_letters,
    discard_dead_letter,
    retry_dead_letter,
)
from core.web.auth import actor_for, signed_in
from core.web.state import app_services

MANAGE_JOBS = "jobs.manage"
STATUSES = tuple(str(status) for status in DeadLetterStatus)


class DeadLetterController(Controller):
    path = "/jobs/dead"
    include_in_schema = False
    opt = permission(MANAGE_JOBS)

    @get("/", name="backoffice.jobs.dead")
    async def listing(self, request: Request[Any, Any, Any]) -> Template:
        status = request.query_params.get("status") or DeadLetterStatus.DEAD
        if status not in STATUSES:
            status = DeadLetterStatus.DEAD
        async with app_services(request.app).database.session() as session:
            rows = await dead_letters(session, status)
        return Template("jobs/dead.html", context={"rows": rows, "status": status, "statuses": STATUSES})

    async def _resolve(self, request: Request[Any, Any, Any], dead_letter_id: int, action: str) -> Redirect:
        """Retry or discard one dead letter; either way back to the list with what happened."""
        resolve, done = (
            (retry_dead_letter, "sent again") if action == "retry" else (discard_dead_letter, "discarded")
        )
        try:
            row = await resolve(
                app_services(request.app).database,
                dead_letter_id,
                actor_for(request, signed_in(request).user),
            )
        except DeadLetterError as exc:
            flash(request, str(exc), category="error")
        else:
            flash(request, f"Job {row.id} ({row.actor_name}) {done}.", category="success")
        return Redirect("/jobs/dead", status_code=303)

    @post("/{dead_letter_id:int}/retry", name="backoffice.jobs.dead.retry")
    async def retry(self, request: Request[Any, Any, Any], dead_letter_id: FromPath[int]) -> Redirect:
        return await self._resolve(request, dead_letter_id, "retry")

    @post("/{dead_letter_id:int}/discard", name="backoffice.jobs.dead.discard")
    async def discard(self, request: Request[Any, Any, Any], dead_letter_id: FromPath[int]) -> Redirect:
        return await self._resolve(request, dead_letter_id, "discard")
