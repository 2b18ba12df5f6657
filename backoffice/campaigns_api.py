"""Campaign results as JSON under ``/api/v1/campaigns`` (permission ``campaigns.manage``), for the
broker's reporting tools: the same figures as the results page."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from litestar import Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.guards import permission
from comms import campaigns
from comms.campaign_models import Campaign
from comms.errors import CampaignNotFoundError
from core.web.state import app_services


@dataclass(frozen=True)
class CampaignResults:
    id: int
    name: str
    status: str
    segment_id: int | None
    mails_per_minute: int
    send_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    recipients: int
    pending: int
    sent: int
    delivered: int
    bounced: int
    failed: int
    skipped: int
    cancelled: int
    opened: int
    clicked: int
    clicks: int


async def _results(session: AsyncSession, row: Campaign) -> CampaignResults:
    counts = asdict(await campaigns.campaign_counts(session, row.id))
    return CampaignResults(
        id=row.id,
        name=row.name,
        status=row.status,
        segment_id=row.segment_id,
        mails_per_minute=row.mails_per_minute,
        send_at=row.send_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        **counts,
    )


@get("/", name="backoffice.api.campaigns", summary="Every campaign with its counts, newest first")
async def list_campaigns(request: Request[Any, Any, Any]) -> list[CampaignResults]:
    async with app_services(request.app).database.session() as session:
        return [await _results(session, row) for row in await campaigns.list_campaigns(session)]


@get("/{campaign_id:int}", name="backoffice.api.campaign", summary="One campaign's counts")
async def get_campaign(request: Request[Any, Any, Any], campaign_id: FromPath[int]) -> CampaignResults:
    async with app_services(request.app).database.session() as session:
        try:
            row = await campaigns.get_campaign(session, campaign_id)
        except CampaignNotFoundError:
            raise NotFoundException(f"no campaign {campaign_id}") from None
        return await _results(session, row)


router = Router(
    path="/api/v1/campaigns",
    route_handlers=[list_campaigns, get_campaign],
    tags=["campaigns"],
    opt=permission("campaigns.manage"),
)
