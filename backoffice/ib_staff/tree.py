"""The IB tree editor: the tree as it stood at any moment; move a sub-IB, reassign a client or
change an IB's scheme or rank from an effective date, with a reason. Moves never touch published
commission lines; cycles are refused by :mod:`ib.hierarchy` before anything is written."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from backoffice.guards import permission
from backoffice.ib_staff.applications import client_emails, terms_from
from backoffice.ib_staff.common import (
    IB_MANAGE,
    FormError,
    database,
    moment,
    required,
    staff_action,
    staff_transaction,
    whole,
)
from core.clock import utcnow
from core.web.forms import form_fields
from ib import attribution, hierarchy, partners, staff_views
from ib.hierarchy import TreeNode


def _walk(nodes: list[TreeNode]) -> list[TreeNode]:
    return [item for node in nodes for item in (node, *_walk(node.children))]


def _back(form: dict[str, str]) -> str:
    return f"/ib/tree?at={quote(form.get('effective_from', '').strip())}"


class IbTreeController(Controller):
    path = "/ib/tree"
    include_in_schema = False
    opt = permission(IB_MANAGE)

    @get("/", name="backoffice.ib.tree")
    async def tree(self, request: Request[Any, Any, Any]) -> Template:
        raw = (request.query_params.get("at") or "").strip()
        error = ""
        try:
            at = moment(raw, "date") if raw else utcnow()
        except FormError as exc:
            error, at = str(exc), utcnow()
        async with database(request).session() as session:
            roots = await hierarchy.tree_at(session, at)
            everyone = _walk(roots)
            clients = [node.client_id for node in everyone] + [c for n in everyone for c in n.clients]
            context = {
                "roots": roots,
                "at": at,
                "raw_at": raw,
                "error": error,
                "emails": await client_emails(session, clients),
                "schemes": await staff_views.schemes(session),
                "ranks": await staff_views.ranks(session),
            }
        return Template("ib/tree.html", context=context)

    @post("/move", name="backoffice.ib.tree.move")
    async def move(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await form_fields(request)

        async def change() -> None:
            partner_id = whole(form.get("partner", ""), "sub-IB")
            parent_id = whole(form.get("parent", ""), "new parent IB", optional=True)
            start = moment(form.get("effective_from", ""), "effective date")
            reason = required(form.get("reason", ""), "reason for the move")
            assert partner_id is not None
            async with staff_transaction(request) as (session, actor):
                await hierarchy.move_partner(
                    session,
                    partner_id,
                    parent_id,
                    effective_from=start,
                    actor=actor,
                    now=utcnow(),
                    reason=reason,
                )

        return await staff_action(request, change, done="The IB was moved.", back=_back(form))

    @post("/reassign", name="backoffice.ib.tree.reassign")
    async def reassign(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await form_fields(request)

        async def change() -> None:
            client_id = whole(form.get("client", ""), "client")
            partner_id = whole(form.get("partner", ""), "IB", optional=True)
            start = moment(form.get("effective_from", ""), "effective date")
            reason = required(form.get("reason", ""), "reason for the reassignment")
            assert client_id is not None
            async with staff_transaction(request) as (session, actor):
                await attribution.reassign_client(
                    session,
                    client_id,
                    partner_id,
                    effective_from=start,
                    reason=reason,
                    actor=actor,
                    now=utcnow(),
                )

        return await staff_action(request, change, done="The client was reassigned.", back=_back(form))

    @post("/terms", name="backoffice.ib.tree.terms")
    async def terms(self, request: Request[Any, Any, Any]) -> Redirect:
        """A new scheme or rank for an IB from a date (a promotion, say); earlier deals keep theirs."""
        form = await form_fields(request)

        async def change() -> None:
            partner_id = whole(form.get("partner", ""), "IB")
            scheme_id, rank = terms_from(form)
            start = moment(form.get("effective_from", ""), "effective date")
            reason = required(form.get("reason", ""), "reason for the change")
            assert partner_id is not None
            async with staff_transaction(request) as (session, actor):
                await partners.change_terms(
                    session,
                    partner_id,
                    scheme_id=scheme_id,
                    rank_code=rank,
                    effective_from=start,
                    actor=actor,
                    now=utcnow(),
                    reason=reason,
                )

        return await staff_action(request, change, done="The IB's terms were changed.", back=_back(form))
