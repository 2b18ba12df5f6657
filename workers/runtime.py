"""What actors share within one worker process: settings and the database.

Actors load their objects by id through :func:`database`, so a message carries ids only.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.db import Database
from core.secrets_box import SecretsBox
from core.settings import Settings
from mt_bridge.connect import PlatformDirectory


@dataclass
class WorkerRuntime:
    settings: Settings
    database: Database


_runtime: WorkerRuntime | None = None
_platforms: PlatformDirectory | None = None


def install(runtime: WorkerRuntime) -> None:
    """Make ``runtime`` this process's; clients to the trading servers are then built afresh."""
    global _runtime, _platforms
    _runtime = runtime
    _platforms = None


def runtime() -> WorkerRuntime:
    if _runtime is None:
        raise RuntimeError("the worker runtime is not installed; start workers through `brokerdesk worker`")
    return _runtime


def database() -> Database:
    return runtime().database


def platforms() -> PlatformDirectory:
    """This process's clients to the trading servers: one keep-alive session per server."""
    global _platforms
    if _platforms is None:
        _platforms = PlatformDirectory(database(), SecretsBox.from_settings(runtime().settings))
    return _platforms


def secrets_box() -> SecretsBox:
    return SecretsBox.from_settings(runtime().settings)
