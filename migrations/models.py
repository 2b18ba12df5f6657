"""Every package's table modules, so that ``Base.metadata`` holds the whole schema.

Alembic autogenerate and the schema-drift test read the full metadata. Each package adds its
models module here when it gets tables; ``migrations`` sits outside the layers, so listing
packages of every layer here is allowed.
"""

from __future__ import annotations

import importlib

MODEL_MODULES: tuple[str, ...] = (
    "core.identity.models",
    "core.audit.models",
    "core.mail.models",
    "core.dead_letters",
    "ledger.models",
    "kyc.models",
    "ledger.models",
    "ib.models",
    "mt_bridge.models",
    "cashier.models",
    "crm.models",
    "risk.models",
    "core.config_store",
    "comms.models",
    "crm.work_models",
    "comms.campaign_models",
    "knowledge.models",
    "core.events",
    "webhooks.models",
    "support.models",
    "analytics.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
