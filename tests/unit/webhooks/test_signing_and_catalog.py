"""The signature scheme a receiver checks, the URL rules, and the webhook pages' Chinese catalog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from backoffice.webhooks import KIND_LABELS
from core.events import EventKind
from webhooks import endpoints
from webhooks.errors import InvalidEndpointError
from webhooks.signing import event_body, new_secret, signature, verify

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "backoffice" / "templates" / "webhooks"
CATALOG = ROOT / "backoffice" / "webhooks_locales" / "zh_Hans" / "LC_MESSAGES" / "messages.po"


def test_a_signature_verifies_and_any_change_breaks_it() -> None:
    secret = new_secret()
    body = event_body("evt_1", "kyc.approved", "2026-12-01T00:00:00+00:00", {"client_id": 7})
    header = signature(secret, 1_796_112_000, body)
    assert header.startswith("v1=")
    assert len(header) == 3 + 64
    assert verify(secret, "1796112000", header, body, now=1_796_112_010)
    assert verify(secret, "1796112000", f"v1=deadbeef, {header}", body, now=1_796_112_000)
    assert not verify(secret, "1796112000", header, body.replace(b"7", b"8"), now=1_796_112_000)
    assert not verify(secret, "1796112001", header, body, now=1_796_112_000)  # timestamp is signed
    assert not verify(new_secret(), "1796112000", header, body, now=1_796_112_000)
    assert not verify(secret, "1796112000", header, body, now=1_796_112_000 + 301)  # too old
    assert not verify(secret, "-1", header, body, now=0)
    assert not verify(secret, "\uff11\uff12", header, body, now=12)  # full-width digits


def test_the_body_is_the_same_bytes_every_time() -> None:
    data = {"b": 2, "a": "一"}
    assert event_body("evt_1", "k", "t", data) == event_body("evt_1", "k", "t", dict(reversed(data.items())))


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.test/x",
        "http://127.0.0.1:8080/h",
        "http://[::1]/h",
        "http://localhost/h",
        "http://127.9.9.9/",
    ],
)
def test_urls_accepted(url: str) -> None:
    assert endpoints.check_url(f"  {url} ") == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "hooks.example.test",
        "javascript:alert(1)",
        "http://192.168.1.1/",
        "http://[fe80::1]/",
        "https://h.test/#x",
        "https://h.test:99999/",
        "http://localhost.example.test/",
    ],
)
def test_urls_refused(url: str) -> None:
    with pytest.raises(InvalidEndpointError):
        endpoints.check_url(url)


def test_every_event_kind_has_a_label_and_every_page_text_a_translation() -> None:
    assert set(KIND_LABELS) == {kind.value for kind in EventKind}
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="zh_Hans")
    translated = {message.id for message in catalog if message.id and message.string}
    wanted: set[str] = set(KIND_LABELS.values())
    for template in TEMPLATES.glob("*.html"):
        wanted |= set(re.findall(r"_\('([^']+)'", template.read_text()))
    source = (ROOT / "webhooks" / "endpoints.py").read_text() + (
        ROOT / "backoffice" / "webhooks.py"
    ).read_text()
    wanted |= set(re.findall(r'InvalidEndpointError\(\s*"\w+",\s*"([^"]+)"', source))
    wanted |= set(re.findall(r'flash\(\s*request,\s*"([^"]+)"', source))
    assert wanted - translated == set()
    assert len(wanted) > 50
