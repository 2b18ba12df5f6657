"""The paging part of a back-office queue page's context: page count and the query strings of the
previous and next pages, which keep the queue's filters."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode


def page_links(filters: Mapping[str, str], page: int, total: int, page_size: int) -> dict[str, object]:
    """``page``, ``total``, ``pages`` and ``previous_query``/``next_query`` ("" at either end)."""
    return {
        "total": total,
        "page": page,
        "pages": max(1, -(-total // page_size)),
        "previous_query": urlencode({**filters, "page": page - 1}) if page > 1 else "",
        "next_query": urlencode({**filters, "page": page + 1}) if page * page_size < total else "",
    }
