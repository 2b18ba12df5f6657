"""IB applications: staff approve one with a scheme and a rank, or reject it with a reason; or make
an existing client an IB directly. The IB services audit each decision (who, IP, before/after)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.guards import permission
from backoffice.ib_staff.common import (
    IB_MANAGE,
    FormError,
    an_id,
    database,
    required,
    staff_action,
    staff_transaction,
)
from core.clock import utcnow
from core.identity.models import CLIENT, User
from core.ids import is_id_text
from core.web.forms import form_fields
from ib import partners, staff_views

BACK = "/ib/applications"


async def client_emails(session: AsyncSession, client_ids: list[int]) -> dict[int, str]:
    if not client_ids:
        return {}
    rows = await session.execute(
        select(User.id, User.email).where(User.kind == CLIENT, User.id.in_(set(client_ids)))
    )
    return {int(user_id): str(email) for user_id, email in rows.all()}


async def find_client(session: AsyncSession, raw: str) -> int:
    """A client by id or email; staff can't make an IB of somebody who is not a client."""
    text = raw.strip()
    if not text:
        raise FormError("Give the client's id or email.")
    condition = User.id == int(text) if is_id_text(text) else User.email == text.lower()
    found = await session.scalar(select(User.id).where(User.kind == CLIENT, condition))
    if found is None:
        raise FormError(f"No client {text}.")
    return int(found)


def terms_from(form: dict[str, str]) -> tuple[int, str | None]:
    """The scheme id and rank code (none for no rank) chosen on an approval form."""
    return an_id(form.get("scheme_id", ""), "scheme"), (form.get("rank") or "").strip() or None


class IbApplicationsController(Controller):
    path = "/ib/applications"
    include_in_schema = False
    opt = permission(IB_MANAGE)

    @get("/", name="backoffice.ib.applications")
    async def queue(self, request: Request[Any, Any, Any]) -> Template:
        async with database(request).session() as session:
            pending = list(await staff_views.applications(session, "pending"))
            decided = [
                *await staff_views.applications(session, "approved"),
                *await staff_views.applications(session, "rejected"),
            ]
            decided.sort(key=lambda a: a.decided_at or a.submitted_at, reverse=True)
            context = {
                "pending": pending,
                "decided": decided[:50],
                "emails": await client_emails(session, [a.client_id for a in [*pending, *decided]]),
                "schemes": await staff_views.schemes(session),
                "ranks": await staff_views.ranks(session),
            }
        return Template("ib/applications.html", context=context)

    @post("/{application_id:int}/approve", name="backoffice.ib.applications.approve")
    async def approve(self, request: Request[Any, Any, Any], application_id: FromPath[int]) -> Redirect:
        form = await form_fields(request)

        async def change() -> None:
            scheme_id, rank = terms_from(form)
            async with staff_transaction(request) as (session, actor):
                await partners.approve(
                    session,
                    application_id,
                    scheme_id=scheme_id,
                    rank_code=rank,
                    actor=actor,
                    now=utcnow(),
                    reason=form.get("reason", "").strip(),
                )

        return await staff_action(request, change, done="The client is now an IB.", back=BACK)

    @post("/{application_id:int}/reject", name="backoffice.ib.applications.reject")
    async def reject(self, request: Request[Any, Any, Any], application_id: FromPath[int]) -> Redirect:
        form = await form_fields(request)

        async def change() -> None:
            reason = required(form.get("reason", ""), "reason for the rejection")
            async with staff_transaction(request) as (session, actor):
                await partners.reject(session, application_id, actor=actor, now=utcnow(), reason=reason)

        return await staff_action(request, change, done="Application rejected.", back=BACK)

    @post("/make-partner", name="backoffice.ib.applications.make_partner")
    async def make_partner(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await form_fields(request)

        async def change() -> None:
            scheme_id, rank = terms_from(form)
            async with staff_transaction(request) as (session, actor):
                client_id = await find_client(session, form.get("client", ""))
                await partners.make_partner(
                    session,
                    client_id,
                    scheme_id=scheme_id,
                    rank_code=rank,
                    actor=actor,
                    now=utcnow(),
                    reason=form.get("reason", "").strip(),
                )

        return await staff_action(request, change, done="The client is now an IB.", back=BACK)
