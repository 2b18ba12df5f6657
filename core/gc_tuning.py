"""Garbage-collector settings for long-running worker processes.

A worker holds a large, permanent heap (modules, SQLAlchemy metadata, compiled statements, the
actors) and each batch it runs makes hundreds of thousands of short-lived objects. CPython's full
collections walk the whole heap, so without this they cost a batch more than its own work.
Freezing what exists at start-up moves it out of the collector's sight; it is never garbage.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect once, then leave every object alive now out of later collections (``gc.freeze``)."""
    gc.collect()
    gc.freeze()
