"""Webhook endpoints (permission ``webhooks.manage``): register URLs for event kinds, rotate their
secrets, read each endpoint's delivery log and replay a delivery. The rules live in :mod:`webhooks`.

A secret is shown on the answer to the request that made it (create, rotate), never again and never
through a redirect or the session, so it lives only in that one page.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from core.config_store import history
from core.secrets_box import SecretsBox
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields, form_list
from core.web.state import app_services
from webhooks import endpoints, log
from webhooks.errors import DeliveryNotFoundError, EndpointNotFoundError, InvalidEndpointError
from webhooks.models import DeliveryStatus, Endpoint

MANAGE_WEBHOOKS = "webhooks.manage"
STATUSES = tuple(status.value for status in DeliveryStatus)
KIND_LABELS = {
    "client.registered": "Client registered",
    "kyc.approved": "KYC approved",
    "kyc.rejected": "KYC rejected",
    "deposit.completed": "Deposit completed",
    "withdrawal.paid": "Withdrawal paid",
    "account.opened": "Trading account opened",
    "ib_commission.paid": "IB commission paid",
}
"""What each event kind is called on the pages (translated through the catalog)."""


def _values(row: Endpoint) -> dict[str, Any]:
    return {"url": row.url, "description": row.description, "kinds": list(row.kinds), "enabled": row.enabled}


class WebhooksController(Controller):
    path = "/webhooks"
    include_in_schema = False
    opt = permission(MANAGE_WEBHOOKS)

    @get("/", name="backoffice.webhooks")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        async with app_services(request.app).database.session() as session:
            rows = await endpoints.list_endpoints(session)
        return Template("webhooks/index.html", context={"rows": rows})

    async def _editor(
        self,
        request: Request[Any, Any, Any],
        row: Endpoint | None,
        *,
        values: dict[str, Any] | None = None,
        error: str = "",
        error_field: str = "",
        status_code: int = 200,
    ) -> Template:
        changes: list[Any] = []
        if row is not None:
            async with app_services(request.app).database.session() as session:
                changes = list(await history(session, str(row.id), target_type=endpoints.AUDIT_TARGET))
        defaults: dict[str, Any] = {"url": "", "description": "", "kinds": [], "enabled": True}
        context = {
            "row": row,
            "values": {**(defaults if row is None else _values(row)), **(values or {})},
            "kinds": endpoints.KINDS,
            "labels": KIND_LABELS,
            "changes": changes,
            "error": error,
            "error_field": error_field,
        }
        return Template("webhooks/form.html", context=context, status_code=status_code)

    async def _form(self, request: Request[Any, Any, Any]) -> tuple[dict[str, str], list[str]]:
        return await form_fields(request), await form_list(request, "kinds")

    def _box(self, request: Request[Any, Any, Any]) -> SecretsBox:
        return SecretsBox.from_settings(app_services(request.app).settings)

    def _secret_page(self, issued: endpoints.IssuedSecret, *, rotated: bool) -> Template:
        return Template(
            "webhooks/secret.html",
            context={"row": issued.endpoint, "secret": issued.secret, "rotated": rotated},
            headers={"Cache-Control": "no-store"},
        )

    @get("/new", name="backoffice.webhooks.new")
    async def new(self, request: Request[Any, Any, Any]) -> Template:
        return await self._editor(request, None)

    @post("/", name="backoffice.webhooks.create")
    async def create(self, request: Request[Any, Any, Any]) -> Template:
        form, kinds = await self._form(request)
        values = {**form, "kinds": kinds, "enabled": form.get("enabled") == "on"}
        try:
            data = endpoints.parse_endpoint(form, kinds)
            async with app_services(request.app).database.transaction() as session:
                issued = await endpoints.create_endpoint(
                    session, self._box(request), data, actor_for(request, signed_in(request).user)
                )
        except InvalidEndpointError as exc:
            return await self._editor(
                request, None, values=values, error=str(exc), error_field=exc.field, status_code=400
            )
        return self._secret_page(issued, rotated=False)

    async def _row(self, request: Request[Any, Any, Any], endpoint_id: int) -> Endpoint:
        async with app_services(request.app).database.session() as session:
            try:
                return await endpoints.get_endpoint(session, endpoint_id)
            except EndpointNotFoundError:
                raise NotFoundException() from None

    @get("/{endpoint_id:int}", name="backoffice.webhooks.edit")
    async def edit(self, request: Request[Any, Any, Any], endpoint_id: FromPath[int]) -> Template:
        return await self._editor(request, await self._row(request, endpoint_id))

    @post("/{endpoint_id:int}", name="backoffice.webhooks.update")
    async def update(
        self, request: Request[Any, Any, Any], endpoint_id: FromPath[int]
    ) -> Template | Redirect:
        row = await self._row(request, endpoint_id)
        form, kinds = await self._form(request)
        values = {**form, "kinds": kinds, "enabled": form.get("enabled") == "on"}
        try:
            data = endpoints.parse_endpoint(form, kinds)
            async with app_services(request.app).database.transaction() as session:
                await endpoints.update_endpoint(
                    session, endpoint_id, data, actor_for(request, signed_in(request).user)
                )
        except InvalidEndpointError as exc:
            return await self._editor(
                request, row, values=values, error=str(exc), error_field=exc.field, status_code=400
            )
        flash(request, "The endpoint is saved.", category="success")
        return Redirect(f"/webhooks/{endpoint_id}", status_code=303)

    @post("/{endpoint_id:int}/rotate", name="backoffice.webhooks.rotate")
    async def rotate(self, request: Request[Any, Any, Any], endpoint_id: FromPath[int]) -> Template:
        try:
            async with app_services(request.app).database.transaction() as session:
                issued = await endpoints.rotate_secret(
                    session, self._box(request), endpoint_id, actor_for(request, signed_in(request).user)
                )
        except EndpointNotFoundError:
            raise NotFoundException() from None
        return self._secret_page(issued, rotated=True)

    @get("/{endpoint_id:int}/deliveries", name="backoffice.webhooks.deliveries")
    async def deliveries(self, request: Request[Any, Any, Any], endpoint_id: FromPath[int]) -> Template:
        row = await self._row(request, endpoint_id)
        status = request.query_params.get("status") or ""
        if status not in STATUSES:
            status = ""
        async with app_services(request.app).database.session() as session:
            lines = await log.delivery_log(session, endpoint_id, status)
        return Template(
            "webhooks/deliveries.html",
            context={"row": row, "lines": lines, "status": status, "statuses": STATUSES},
        )

    @post("/{endpoint_id:int}/deliveries/{delivery_id:int}/replay", name="backoffice.webhooks.replay")
    async def replay(
        self, request: Request[Any, Any, Any], endpoint_id: FromPath[int], delivery_id: FromPath[int]
    ) -> Redirect:
        try:
            async with app_services(request.app).database.transaction() as session:
                await log.replay(
                    session, endpoint_id, delivery_id, actor_for(request, signed_in(request).user)
                )
        except DeliveryNotFoundError:
            raise NotFoundException() from None
        flash(request, "The delivery will be sent again with the same event id.", category="success")
        return Redirect(f"/webhooks/{endpoint_id}/deliveries", status_code=303)
