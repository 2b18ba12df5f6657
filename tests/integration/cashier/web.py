"""Helpers for driving the funding pages over HTTP like a browser."""

from __future__ import annotations

import re
from typing import Any

from httpx import AsyncClient, Response

from core.db import Database
from kyc.models import CaseStatus, KycCase, KycLevel
from tests.helpers import csrf_from

IDEMPOTENCY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def idempotency_keys(html: str) -> list[str]:
    return IDEMPOTENCY.findall(html)


async def post_form(
    client: Any, page: str, action: str, data: dict[str, Any], *, key_index: int = 0, **kwargs: Any
) -> Response:
    """GET the form page, then POST with its CSRF token and (when it has one) its idempotency key."""
    html = (await client.get(page)).text
    keys = idempotency_keys(html)
    fields = {**data, "_csrf_token": csrf_from(html)}
    if keys and "idempotency_key" not in data:
        fields["idempotency_key"] = keys[key_index]
    return await client.post(action, data=fields, follow_redirects=False, **kwargs)


async def grant_kyc(db: Database, client_id: int, level: KycLevel = KycLevel.FULL) -> None:
    async with db.transaction() as session:
        case = await session.get(KycCase, client_id)
        if case is None:
            session.add(
                KycCase(client_id=client_id, level=level, status=CaseStatus.APPROVED, risk_reasons=[])
            )
        else:
            case.level = level


async def wallet_row(client: AsyncClient | Any, currency: str = "USD") -> str:
    html = (await client.get("/funding")).text
    match = re.search(rf'<tr class="wallet" data-currency="{currency}">(.*?)</tr>', html, re.S)
    return match.group(1) if match else ""
