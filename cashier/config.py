"""The cashier's parts built from settings, so the portal, the back office and the workers agree."""

from __future__ import annotations

from datetime import timedelta

from cashier.psp.base import PaymentProvider
from cashier.psp.sandbox_client import SandboxPsp
from cashier.withdrawals import WithdrawalPolicy
from core.settings import Settings
from core.storage import EncryptedFileStore


def withdrawal_policy(settings: Settings) -> WithdrawalPolicy:
    """The environment's defaults only. Staff may override them per currency in the back office:
    requests use :func:`cashier.limits.current_withdrawal_policy`, which reads the override."""
    return WithdrawalPolicy(
        per_transaction_max=settings.withdrawal_max_minor,
        daily_max=settings.withdrawal_daily_max_minor,
        four_eyes_from=settings.withdrawal_four_eyes_minor,
        deadline=timedelta(hours=settings.withdrawal_deadline_hours),
    )


def payment_providers(settings: Settings) -> dict[str, PaymentProvider]:
    """Every configured PSP by name; the demo has the sandbox only."""
    sandbox = SandboxPsp(settings.psp_sandbox_url, settings.effective_psp_webhook_secret)
    return {sandbox.name: sandbox}


def proof_store(settings: Settings) -> EncryptedFileStore:
    return EncryptedFileStore.from_settings(settings)
