"""``GET /api/v1/clients/{client_id}/figures``: one client's analytics figures for integrations
(permission ``clients.read``, within the staff member's data scope, like the 360 page).

A client outside the scope, an id that names no client, and a client whose figures the job has
not computed yet all answer 404, each with a detail that says which.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from analytics.reading import ClientFigures, client_figures
from backoffice.guards import permission
from core.web.auth import signed_in
from core.web.state import app_services
from crm.client_360 import require_client
from crm.errors import ClientNotFoundError, OutOfScopeError
from crm.scope import data_scope_of

BIGINT_MAX = 2**63 - 1


@get(
    "/clients/{client_id:int}/figures",
    name="backoffice.api.client_figures",
    summary="One client's net deposits, volume, commissions, activity, churn risk and value tier",
    opt=permission("clients.read"),
)
async def get_client_figures(request: Request[Any, Any, Any], client_id: FromPath[int]) -> ClientFigures:
    if not 0 < client_id <= BIGINT_MAX:
        raise NotFoundException(f"no client has id {client_id}")
    async with app_services(request.app).database.session() as session:
        try:
            await require_client(session, await data_scope_of(session, signed_in(request).user.id), client_id)
        except (ClientNotFoundError, OutOfScopeError):
            raise NotFoundException(f"no client has id {client_id}") from None
        figures = await client_figures(session, client_id)
    if figures is None:
        raise NotFoundException(f"the figures of client {client_id} are not computed yet")
    return figures
