"""Report pages over HTTP: 200 with reports.read and 403 without, the range validated (400 naming
the field, nothing queried), the CSV holding the table's cells, charts fed without inline script."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.db import Database
from core.settings import Settings
from reports.catalogue import REPORTS
from tests.helpers import make_staff, staff_sign_in, submit
from tests.integration.reports import seed as s

pytestmark = pytest.mark.asyncio

TAG = re.compile(r"<[^>]+>")


async def signed_in_as(db: Database, settings: Settings, client: AsyncTestClient, roles: list[str]) -> None:
    email = f"{'-'.join(roles) or 'nobody'}@staff.test"
    _, secret = await make_staff(db, settings, email, roles)
    assert secret
    await staff_sign_in(client, email, secret)


def table_cells(page: str, table: str) -> tuple[list[str], list[list[str]]]:
    match = re.search(rf'<table class="report" data-table="{table}">(.*?)</table>', page, re.S)
    assert match, f"no table {table}"
    header = re.findall(r'<th data-key="([^"]+)">', match.group(1))
    rows = [
        [html.unescape(TAG.sub("", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r'<tr class="report-row">(.*?)</tr>', match.group(1), re.S)
    ]
    return header, rows


def as_csv_cell(text: str) -> str:
    """The page groups thousands and names the currency; the CSV does neither."""
    return re.sub(r" [A-Z]{3,4}$", "", text).replace(",", "")


async def test_every_report_renders_for_reports_read(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient, tmp_path: Path
) -> None:
    await s.seed(db, tmp_path)
    await signed_in_as(db, settings, backoffice_client, ["read_only"])
    index = await backoffice_client.get("/reports")
    assert index.status_code == 200
    for key, spec in REPORTS.items():
        assert f'href="/reports/{key}"' in index.text
        page = await backoffice_client.get(f"/reports/{key}")
        assert page.status_code == 200, key
        assert html.unescape(page.text).count(spec.title) >= 1
        assert '<script src="/static/reports/charts.js" defer></script>' in page.text
        charts = json.loads(
            html.unescape(re.search(r'id="report-chart-data">(.*?)</script>', page.text, re.S).group(1))  # type: ignore[union-attr]
        )
        assert all(set(chart) == {"kind", "labels", "datasets"} for chart in charts.values())
    script = await backoffice_client.get("/static/reports/charts.js")
    assert script.status_code == 200
    assert "new Chart" in script.text
    assert (await backoffice_client.get("/reports/nonsense")).status_code == 404


async def test_reports_refused_without_reports_read(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient
) -> None:
    await signed_in_as(db, settings, backoffice_client, ["dealing"])
    for path in ("/reports", "/reports/funding", "/reports/funding/export.csv"):
        assert (await backoffice_client.get(path)).status_code == 403, path


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=yesterday", "from", "The start date must be a date such as 2026-11-30."),
        ("to=2026-13-01", "to", "The end date must be a date such as 2026-11-30."),
        ("from=2026-11-20&to=2026-11-10", "to", "The end date is before the start date."),
        (
            "from=2024-01-01&to=2026-11-10",
            "from",
            "A report covers at most 400 days; choose a later start date.",
        ),
    ],
)
async def test_a_bad_range_is_400_naming_the_field(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient, query: str, field: str, message: str
) -> None:
    await signed_in_as(db, settings, backoffice_client, ["finance"])
    page = await backoffice_client.get(f"/reports/funding?{query}")
    assert page.status_code == 400
    assert f'data-field="{field}"' in page.text
    assert message in html.unescape(page.text)
    assert '<table class="report"' not in page.text
    export = await backoffice_client.get(f"/reports/funding/export.csv?{query}")
    assert export.status_code == 400
    assert export.text == f"{field}: {message}"


async def test_a_future_end_is_refused(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient
) -> None:
    await signed_in_as(db, settings, backoffice_client, ["finance"])
    tomorrow = (s.today() + timedelta(days=1)).isoformat()
    page = await backoffice_client.get(f"/reports/trading?to={tomorrow}")
    assert page.status_code == 400
    assert "The end date is in the future." in page.text


async def test_csv_holds_the_cells_of_the_table(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient, tmp_path: Path
) -> None:
    await s.seed(db, tmp_path)
    await signed_in_as(db, settings, backoffice_client, ["finance"])
    first = (s.today() - timedelta(days=9)).isoformat()
    last = s.today().isoformat()
    checked = 0
    for key, table in (
        ("funding", "by_method"),
        ("funding", "by_day"),
        ("funding", "by_country"),
        ("acquisition", "funnel"),
        ("trading", "by_group"),
        ("kyc", "reviews"),
        ("ledger", "trial_balance"),
        ("ledger", "differences"),
    ):
        page = await backoffice_client.get(f"/reports/{key}?from={first}&to={last}")
        assert page.status_code == 200
        header, shown = table_cells(page.text, table)
        export = await backoffice_client.get(
            f"/reports/{key}/export.csv?from={first}&to={last}&table={table}"
        )
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("text/csv")
        assert f"report-{key}-{table}-" in export.headers["content-disposition"]
        exported = list(csv.reader(io.StringIO(export.text)))
        assert exported[0] == header
        assert exported[1:] == [[as_csv_cell(cell) for cell in row] for row in shown], (key, table)
        assert exported[1:], (key, table)
        checked += 1
    assert checked == 8
    _, by_day = table_cells(
        (await backoffice_client.get(f"/reports/funding?from={first}&to={last}")).text, "by_day"
    )
    assert len(by_day) == 10 * 2  # ten days, USD and EUR
    wired = sum(amount for _, amount in s.WIRED_TODAY)
    today_usd = next(row for row in by_day if row[0] == last and row[1] == "USD")
    assert today_usd[3] == f"{wired / 100:,.2f} USD"
    async with db.session() as session:
        exports = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "reports.exported"))
        )
    assert len(exports) == checked
    assert exports[0].after == {"from": first, "to": last, "rows": exports[0].after["rows"]}  # type: ignore[index]


async def test_unknown_table_is_400(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient
) -> None:
    await signed_in_as(db, settings, backoffice_client, ["finance"])
    export = await backoffice_client.get("/reports/funding/export.csv?table=secrets")
    assert export.status_code == 400
    assert export.text.startswith("table:")


async def test_reports_read_in_chinese(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient, tmp_path: Path
) -> None:
    await s.seed(db, tmp_path)
    await signed_in_as(db, settings, backoffice_client, ["finance"])
    await submit(
        backoffice_client, "/reports", "/language", {"language": "zh_Hans", "next": "/reports/acquisition"}
    )
    page = html.unescape((await backoffice_client.get("/reports/acquisition")).text)
    assert "客户获取" in page
    assert "转化漏斗" in page
    assert "已验证" in page
    charts = json.loads(re.search(r'id="report-chart-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert "已验证" in charts["funnel"]["labels"]


async def test_every_report_renders_on_an_empty_database(
    db: Database, settings: Settings, backoffice_client: AsyncTestClient
) -> None:
    await signed_in_as(db, settings, backoffice_client, ["admin"])
    for key in REPORTS:
        page = await backoffice_client.get(f"/reports/{key}")
        assert page.status_code == 200, key
    differences = await backoffice_client.get("/reports/ledger")
    assert "Nothing in this range." in differences.text
    funnel = await backoffice_client.get("/reports/acquisition/export.csv?table=funnel")
    assert funnel.text.splitlines()[1:] == [
        "registered,0,0.0",
        "verified,0,0.0",
        "funded,0,0.0",
        "traded,0,0.0",
    ]
