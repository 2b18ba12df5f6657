"""CSV exports as downloads, named by what they hold and when they were made."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Response


def csv_response(body: str, name: str) -> Response[str]:
    """A CSV download named ``<name>-<UTC stamp>.csv``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )
