"""The worker's actors declared on a fresh stub broker, for tests that run actors by hand."""

from __future__ import annotations

from types import ModuleType

from core.settings import Settings
from workers.broker import create_broker
from workers.in_process import declare_actors


def actors_on_a_fresh_broker() -> ModuleType:
    """Make a stub broker Dramatiq's global broker and declare every worker actor on it.

    Importing :mod:`workers.actors` declares the actors on the broker that is global at that moment,
    once per process. A test that makes a new broker must declare them again (a reload does), or
    every job later sent by name reaches a broker that knows no queue.
    """
    create_broker(Settings(env="test"))
    return declare_actors()
