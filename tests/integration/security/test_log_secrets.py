"""The log watch itself (tests/log_watch.py): it sees secrets wherever a record carries them, and
the sign-in flows, right and wrong, log none. Every other test is checked by the same watch."""

from __future__ import annotations

import logging
from dataclasses import replace

from litestar.testing import AsyncTestClient

from core.db import Database
from core.settings import Settings
from tests import log_watch
from tests.apps import backoffice_app, portal_app
from tests.helpers import STRONG_PASSWORD, client_sign_in, make_client, make_staff, staff_sign_in, submit

logger = logging.getLogger("brokerdesk.test.log_watch")


def test_the_watch_finds_secrets_in_messages_extras_and_tracebacks() -> None:
    watch = log_watch.WATCH
    start = watch.mark()
    log_watch.remember("sk_live_0123456789abcdef", what="an API key")
    try:
        logger.warning("signing in with %s", STRONG_PASSWORD)
        logger.warning("scraping", extra={"token": "scrape-me-please"})
        try:
            raise RuntimeError("key sk_live_0123456789abcdef refused")
        except RuntimeError:
            logger.exception("provider call failed")
        logger.warning("scan otpauth://totp/BrokerDesk:a@b?secret=JBSWY3DPEHPK3PXP")
        logger.warning("nothing to see here")
        leaks = watch.leaks(since=start)
    finally:
        watch.forget(start)  # these lines were logged on purpose
    assert len(leaks) == 4
    assert "the test users' password" in leaks[0]
    assert "metrics bearer token" in leaks[1]
    assert "an API key" in leaks[2]
    assert "TOTP provisioning URI" in leaks[3]


async def test_sign_in_flows_log_no_secret(settings: Settings, db: Database) -> None:
    root = logging.getLogger()
    level = root.level
    # everything the apps would say, not only what production keeps (BROKERDESK_LOG_LEVEL=DEBUG)
    verbose = replace(settings, log_level="DEBUG")
    portal_under_test, backoffice_under_test = portal_app(verbose, db), backoffice_app(verbose, db)
    start = log_watch.WATCH.mark()
    try:
        await make_client(db, settings, "logs@example.test")
        _id, secret = await make_staff(db, settings, "logs@staff.test", ["admin"])
        assert secret
        async with AsyncTestClient(app=portal_under_test) as portal:
            wrong = await client_sign_in(portal, "logs@example.test", password="Wrong-Password-99")
            assert wrong.status_code == 400
            assert (await client_sign_in(portal, "logs@example.test")).status_code == 303
            await submit(portal, "/account", "/account/password", {"current_password": "Wrong-Password-99"})
        async with AsyncTestClient(app=backoffice_under_test) as backoffice:
            await staff_sign_in(backoffice, "logs@staff.test", secret)
            assert (await backoffice.get("/account")).status_code == 200
    finally:
        root.setLevel(level)
    log_watch.WATCH.remember([secret], "the staff member's TOTP secret")
    assert log_watch.WATCH.mark() > start  # the apps did log
    assert log_watch.WATCH.leaks(since=start) == []
