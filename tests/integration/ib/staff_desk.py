"""Driving the back office's IB pages as a staff member would: sign in, read a page, post a form.

Pages are checked by what they show: the tree's nesting, the diff rows' data attributes, the
flash message after a redirect.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

from httpx import Response
from litestar.testing import AsyncTestClient

from core.db import Database
from core.settings import Settings
from tests.helpers import make_staff, staff_sign_in, submit

IB_MANAGER = "ibm@staff.test"


async def sign_in_ib_manager(client: AsyncTestClient, db: Database, settings: Settings) -> None:
    _id, secret = await make_staff(db, settings, IB_MANAGER, ["ib_manager"])
    assert secret
    await staff_sign_in(client, IB_MANAGER, secret)


async def post_form(client: AsyncTestClient, page: str, action: str, data: dict[str, Any]) -> Response:
    """Submit a form from ``page`` and follow the redirect back, as a browser does."""
    response = await submit(client, page, action, data)
    assert response.status_code == 303, response.text
    return await client.get(response.headers["location"])


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<li class="flash flash-\w+">(.*?)</li>', page, re.S)]


class _TreeParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[int] = []
        self.parents: dict[int, int | None] = {}
        self.clients: dict[int, int] = {}
        self._lis: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "li":
            node = values.get("data-partner")
            self._lis.append(node is not None)
            if node is not None:
                self.parents[int(node)] = self.stack[-1] if self.stack else None
                self.stack.append(int(node))
        if tag == "span" and values.get("data-client") is not None and self.stack:
            self.clients[int(str(values["data-client"]))] = self.stack[-1]

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self._lis and self._lis.pop():
            self.stack.pop()


def tree_shown(page: str) -> tuple[dict[int, int | None], dict[int, int]]:
    """(partner → parent partner or None, client → partner) as the tree page nests them."""
    parser = _TreeParser()
    parser.feed(page)
    return parser.parents, parser.clients


def data_rows(page: str, css_class: str) -> list[dict[str, str]]:
    """The ``data-*`` attributes of every ``<tr class="css_class">``."""
    rows = []
    for attributes in re.findall(rf'<tr class="{css_class}"([^>]*)>', page):
        rows.append(dict(re.findall(r'data-([\w-]+)="([^"]*)"', attributes)))
    return rows
