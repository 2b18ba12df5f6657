"""KYC page tests: uploads have a small limit and the sandbox vendor's webhooks have a secret."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.settings import Settings

MAX_UPLOAD = 64 * 1024
SANDBOX_SECRET = "sandbox-test-secret"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, max_upload_bytes=MAX_UPLOAD, kyc_sandbox_secret=SANDBOX_SECRET)
