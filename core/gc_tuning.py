"""Garbage-collector settings for long-running worker processes.

A worker holds a large, permanent heap (modules, SQLAlchemy metadata, compiled statements, the
actors) and each batch it runs makes hundreds of thousands of short-lived objects. CPython's full
collections walk the whole heap, so without this they cost a batch more than its own work.
Freezing what exists at start-up moves it out of the collector's sight; it is never garbage.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_startup_objects() -> None:
    """Collect once, then leave every object alive now out of later collections (``gc.freeze``)."""
    gc.collect()
    gc.freeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off garbage collection while a pure, allocation-heavy step runs.

    For code that makes many objects and no reference cycles (the commission calculation): the
    collector would walk everything the batch holds again and again for nothing to free. It runs
    as usual once the step is over; nothing is lost, only deferred.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
