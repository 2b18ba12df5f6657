"""Module the Dramatiq CLI imports in each worker process: broker, runtime, then the actors."""

from __future__ import annotations

from core.db import Database
from core.gc_tuning import freeze_startup_objects
from core.logging import configure_logging
from core.settings import load_settings
from workers import runtime
from workers.broker import create_broker

settings = load_settings()
configure_logging(settings)
broker = create_broker(settings)
runtime.install(runtime.WorkerRuntime(settings=settings, database=Database.from_url(settings.database_url)))

import workers.actors  # noqa: E402,F401 - declares the actors on the broker made above

freeze_startup_objects()
