"""Small pure pieces of identity and audit: policy, TOTP steps, CSV safety, the memory limiter."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pyotp
import pytest

from core.audit.models import AuditEvent
from core.audit.service import events_csv
from core.identity.errors import WeakPasswordError
from core.identity.passwords import check_password_policy, hasher
from core.identity.totp import STEP_SECONDS, matching_step
from core.security.rate_limit import MemoryRateLimiter
from core.settings import Settings

SETTINGS = Settings()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab1!xyz", "at least"),
        ("qwertyuiop", "too common"),
        ("Password123", "too common"),
        ("aaaaaaaaaaaa", "too common"),
        ("my-sandra.lee-pass", "email"),
    ],
)
def test_password_policy_refuses(password: str, reason: str) -> None:
    with pytest.raises(WeakPasswordError, match=reason):
        check_password_policy(SETTINGS, password, email="sandra.lee@example.test")


def test_password_policy_accepts_a_passphrase() -> None:
    check_password_policy(SETTINGS, "correct horse battery staple", email="sandra.lee@example.test")


def test_production_hash_parameters_are_strong() -> None:
    params = hasher(SETTINGS)
    assert params.type.name == "ID"
    assert params.memory_cost >= 65536
    assert params.time_cost >= 3


def test_totp_window_accepts_neighbours_only() -> None:
    secret = pyotp.random_base32()
    now = time.time()
    step = int(now // STEP_SECONDS)
    totp = pyotp.TOTP(secret)
    assert matching_step(secret, totp.at(now), now) == step
    assert matching_step(secret, totp.at(now - STEP_SECONDS), now) == step - 1
    assert matching_step(secret, totp.at(now + 3 * STEP_SECONDS), now) is None
    assert matching_step(secret, "12345", now) is None
    assert matching_step(secret, "abcdef", now) is None


def test_csv_export_neutralises_formulas() -> None:
    event = AuditEvent(
        id=1, occurred_at=datetime(2026, 11, 22, tzinfo=UTC), actor_id=None, actor_email="=HYPERLINK(1)",
        actor_kind="staff", action="x.y", target_type="user", target_id="@SUM(A1)", before=None, after=None,
        ip="", user_agent="+cmd",
    )  # fmt: skip
    lines = events_csv([event]).splitlines()
    assert lines[1].split(",")[3] == "'=HYPERLINK(1)"
    assert "'@SUM(A1)" in lines[1]
    assert lines[1].endswith("'+cmd")


async def test_memory_limiter_counts_and_resets() -> None:
    limiter = MemoryRateLimiter()
    assert (await limiter.peek("k")).count == 0
    assert (await limiter.hit("k", 60)).count == 1
    window = await limiter.hit("k", 60)
    assert window.count == 2
    assert 0 < window.retry_after_seconds <= 60
    await limiter.reset("k")
    assert (await limiter.peek("k")).count == 0
