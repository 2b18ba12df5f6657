"""Back-office pages: the dashboard of what needs staff now.

Each tile is one queue with its size and the age of its oldest item, links to the queue, and is
shown only to staff holding the permission that queue's page declares; only those queues are
counted (:func:`reports.attention.queue_states`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.guards import permission, staff_permissions
from core.clock import utcnow
from core.web.state import app_services
from reports.attention import QueueState, queue_states
from risk.alerts import open_alert_counts


@dataclass(frozen=True)
class Tile:
    key: str
    title: str
    link: str
    permission: str


TILES: tuple[Tile, ...] = (
    Tile("kyc", "KYC cases", "/kyc", "kyc.review"),
    Tile(
        "deposits",
        "Wire deposits to review",
        "/finance/deposits?status=awaiting_review",
        "cashier.approve_deposit",
    ),
    Tile("withdrawals", "Withdrawals to approve", "/finance/withdrawals", "cashier.approve_withdrawal"),
    Tile("bank_accounts", "Bank accounts to verify", "/finance/bank-accounts", "cashier.approve_withdrawal"),
    Tile(
        "transfers", "Transfers waiting on the platform", "/finance/transfers", "cashier.approve_withdrawal"
    ),
    Tile("account_approvals", "Trading accounts to approve", "/dealing/approvals", "accounts.approve"),
    Tile("leverage_changes", "Leverage changes to approve", "/dealing/approvals", "accounts.approve"),
    Tile("ib_applications", "IB applications", "/ib/applications", "ib.manage"),
    Tile("payout_holds", "IB payouts held for review", "/ib/payouts", "ib.manage"),
    Tile("reconciliation", "Reconciliation differences", "/dealing/reconciliation", "dealing.manage"),
    Tile("failed_commands", "Failed bridge commands", "/dealing/commands", "dealing.manage"),
    Tile("dead_letters", "Dead-letter jobs", "/jobs/dead", "jobs.manage"),
    Tile("risk_alerts", "Risk alerts", "/risk/alerts", "risk.manage"),
)
RISK_ALERTS = "risk_alerts"


async def risk_alert_state(session: AsyncSession) -> QueueState:
    """The risk queue as one tile: every rule's open alerts, aged by the oldest of them.

    It is read here because ``reports`` (which counts the other queues) and ``risk`` are siblings.
    """
    counts = await open_alert_counts(session)
    oldest = min((count.oldest_raised_at for count in counts), default=None)
    return QueueState(RISK_ALERTS, sum(count.count for count in counts), oldest)


def age_text(seconds: int | None) -> str:
    """``45 min``, ``5 h``, ``3 d 4 h``: how long the oldest item has waited."""
    if seconds is None:
        return ""
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86_400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86_400} d {seconds % 86_400 // 3600} h"


class DashboardController(Controller):
    """What needs staff attention now, limited to the queues the staff member may open."""

    include_in_schema = False

    @get("/", name="backoffice.dashboard", opt=permission("dashboard.view"))
    async def dashboard(self, request: Request[Any, Any, Any]) -> Template:
        held = await staff_permissions(request)
        visible = [tile for tile in TILES if tile.permission in held]
        async with app_services(request.app).database.session() as session:
            states = {state.key: state for state in await queue_states(session, [t.key for t in visible])}
            if any(tile.key == RISK_ALERTS for tile in visible):
                states[RISK_ALERTS] = await risk_alert_state(session)
        now = utcnow()
        tiles = [
            {
                "tile": tile,
                "count": states[tile.key].count,
                "age": age_text(states[tile.key].age_seconds(now)),
            }
            for tile in visible
        ]
        return Template("dashboard.html", context={"tiles": tiles})
