"""API fuzzing: schemathesis reads each app's own OpenAPI schema and throws generated requests, valid
and invalid, at every operation, signed in (a KYC-approved client who is an IB with a network and a
wallet; a staff member with TOTP and every permission) on the real app served by uvicorn on
loopback, with the PSP sandbox behind the portal.

No answer may be a server error, and every answer must be one the schema documents: its status, its
content type and its JSON body (errors are the documented ``{"status_code", "detail"}``). The
operations come from the schema, so an API route added later is fuzzed without editing this file.

The number of examples per operation is bounded (``BROKERDESK_FUZZ_EXAMPLES``, 20 by default) and
generation is derandomised, so a run is repeatable and takes seconds; raise the number to dig deeper.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cashier.psp.sandbox import PspSandbox
from core.db import Database
from core.identity.permissions import ALL_PERMISSIONS
from core.settings import Settings
from core.storage import EncryptedFileStore
from tests.helpers import STRONG_PASSWORD, csrf_from, make_staff, totp_code
from tests.integration.cashier.conftest import PSP_SECRET, fund_by_wire, serve_on_loopback
from tests.integration.cashier.web import grant_kyc
from tests.integration.ib.portal_world import EMAILS, seed, signed_in_as

EXAMPLES = int(os.environ.get("BROKERDESK_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
"""Schemathesis' checks but ``positive_data_acceptance``: a schema-valid withdrawal of more than the
wallet holds is rightly refused, with the documented 400 that names the rule."""
CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


def form_token(session: requests.Session, url: str) -> str:
    match = CSRF_FIELD.search(session.get(url, timeout=10).text)
    assert match, f"no CSRF field on {url}"
    return match.group(1)


def sign_in(base_url: str, email: str, totp_secret: str | None = None) -> requests.Session:
    """A browser session signed in through the real sign-in forms."""
    session = requests.Session()
    answer = session.post(
        f"{base_url}/login",
        data={
            "email": email,
            "password": STRONG_PASSWORD,
            "_csrf_token": form_token(session, f"{base_url}/login"),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text
    if totp_secret:
        step = answer.headers["location"]
        answer = session.post(
            f"{base_url}/login/2fa",
            data={"code": totp_code(totp_secret), "_csrf_token": form_token(session, f"{base_url}{step}")},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 303, answer.text
    assert session.get(f"{base_url}/account", allow_redirects=False, timeout=10).status_code == 200
    return session


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    """operation -> how often it answered each status"""

    @property
    def calls(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values())

    def answered_2xx(self) -> list[str]:
        return [op for op, counts in self.statuses.items() if any(200 <= code < 300 for code in counts)]

    def report(self) -> str:
        return f"{len(self.failures)} of {self.calls} calls failed:\n" + "\n".join(self.failures[:15])


def fuzz(base_url: str, session: requests.Session, csrf_cookie: str) -> Outcome:
    """Every operation of the app's schema, positive and negative examples; the failures found."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/openapi.json")
    outcome = Outcome()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operation"
    for operation in operations:
        fuzz_operation(operation, base_url, session, csrf_cookie, outcome)
    return outcome


def fuzz_operation(
    operation: Any, base_url: str, session: requests.Session, csrf_cookie: str, outcome: Outcome
) -> None:
    label = operation.label
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are collected, not raised
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        headers = {
            "x-csrftoken": session.cookies.get(csrf_cookie, ""),
            "idempotency-key": f"fuzz-{uuid.uuid4().hex}",
        }
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=20)
            outcome.statuses.setdefault(label, Counter())[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:
            curl = case.as_curl_command(headers)
            outcome.failures.append(f"{label}: {str(exc)[:1500]}\n  {curl}")

    run()


@pytest.mark.slow
async def test_portal_api_answers_fuzzing_as_documented(settings: Settings, db: Database) -> None:
    from portal.app import create_app

    world = await seed(db, settings)
    alice = world.users["A"]  # an IB with a sub-IB and clients, a KYC-approved client with a wallet
    await grant_kyc(db, alice)
    await fund_by_wire(db, EncryptedFileStore.from_settings(settings), alice, 500_00)
    sandbox = PspSandbox(secret=PSP_SECRET.encode(), duplicate_rate=0, late_rate=0, retry_delays=(0.05,))
    sandbox_server = await serve_on_loopback(sandbox)
    portal_settings = replace(settings, psp_sandbox_url=sandbox_server.url, psp_webhook_secret=PSP_SECRET)
    portal = await serve_on_loopback(create_app(portal_settings, database=db), lifespan="on")
    try:
        session = await asyncio.to_thread(sign_in, portal.url, EMAILS["A"])
        outcome = await asyncio.to_thread(fuzz, portal.url, session, "bd_portal_csrf")
        still_signed_in = await asyncio.to_thread(session.get, f"{portal.url}/account", allow_redirects=False)
    finally:
        await sandbox.drain()
        await portal.stop()
        await sandbox_server.stop()
    assert not outcome.failures, outcome.report()
    assert outcome.calls >= 10 * EXAMPLES
    assert len(outcome.answered_2xx()) >= 10, outcome.statuses  # signed in, the fuzzer got through
    assert still_signed_in.status_code == 200


@pytest.mark.slow
async def test_backoffice_api_answers_fuzzing_as_documented(settings: Settings, db: Database) -> None:
    from backoffice.app import create_app
    from core.audit.service import SYSTEM
    from core.identity.roles import create_role

    async with db.transaction() as session:
        await create_role(session, "everything", "every permission there is", ALL_PERMISSIONS, SYSTEM)
    _id, secret = await make_staff(db, settings, "fuzzer@staff.test", ["everything"])
    backoffice = await serve_on_loopback(create_app(settings, database=db), lifespan="on")
    try:
        session = await asyncio.to_thread(sign_in, backoffice.url, "fuzzer@staff.test", secret)
        outcome = await asyncio.to_thread(fuzz, backoffice.url, session, "bd_staff_csrf")
    finally:
        await backoffice.stop()
    assert not outcome.failures, outcome.report()
    assert outcome.answered_2xx(), outcome.statuses


async def test_what_the_fuzzer_found_answers_as_documented(
    settings: Settings, db: Database, portal_client: AsyncTestClient
) -> None:
    """The findings, pinned: an id past 64 bits was a 500 (the driver overflowed), a NUL character in
    a parameter or a campaign tag was a 500 on PostgreSQL, and a malformed parameter's 400 did not
    say which parameter."""
    await seed(db, settings)
    async with signed_in_as(portal_client.app, "A") as browser:
        huge = await browser.get(f"/api/v1/ib/commissions/{2**64}/1")
        huge_page = await browser.get(f"/ib/clients/{2**70}")
        fits = await browser.get(f"/api/v1/ib/commissions/{2**63 - 1}/1")
        malformed = await browser.get("/api/v1/ib/clients", params={"page": "abc"})
        too_big = await browser.get("/api/v1/ib/deals", params={"client": str(2**64)})
        nul_query = await browser.get("/api/v1/ib/commissions", params={"symbol": "EUR\x00USD"})
        nul_path = await browser.get("/r/ab%00cd")
        token = csrf_from((await browser.get("/ib/links")).text)
        nul_body = await browser.post(
            "/api/v1/ib/links", json={"campaign": "spring\x00sale"}, headers={"x-csrftoken": token}
        )
        nul_form = await browser.post("/ib/links", data={"campaign": "autumn\x00sale", "_csrf_token": token})
        links = (await browser.get("/api/v1/ib/links")).json()
    assert huge.status_code == 404
    assert huge.json()["status_code"] == 404
    assert huge_page.status_code == 404
    assert "text/html" in huge_page.headers["content-type"]
    assert fits.status_code == 404
    assert malformed.status_code == 400
    assert malformed.json()["detail"].endswith("page: Expected `int`, got `str`")
    assert too_big.status_code == 400
    assert "client" in too_big.json()["detail"]
    assert nul_query.status_code == 400
    assert nul_query.json()["detail"] == "symbol: text may not hold a NUL character"
    assert nul_path.status_code == 400
    assert nul_body.status_code == 201
    assert nul_form.status_code < 400
    assert {"spring sale", "autumnsale"} <= {link["campaign"] for link in links}  # forms drop NUL
