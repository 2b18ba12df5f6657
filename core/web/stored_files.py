"""Answering with a stored upload's bytes (a ticket attachment, say): never cached, never sniffed,
sandboxed, and named safely, so a file a client uploaded can't run as a page of ours."""

from __future__ import annotations

import re

from litestar import Response

FILE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def stored_file_response(
    content_type: str, name: str, data: bytes, *, inline: bool = False
) -> Response[bytes]:
    disposition = "inline" if inline else "attachment"
    safe = (_UNSAFE_NAME.sub("_", name).strip(" .") or "file")[:200]
    return Response(
        data,
        media_type=content_type,
        headers={**FILE_HEADERS, "Content-Disposition": f'{disposition}; filename="{safe}"'},
    )
