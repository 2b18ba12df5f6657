"""``brokerdesk serve`` hands uvicorn factories that build the app, then freeze its start-up heap
(out of the garbage collector's walks), in every worker process."""

from __future__ import annotations

import gc
import importlib

from litestar import Litestar

from cli.commands.serve import FACTORIES, _frozen


def test_each_served_app_names_a_factory_that_exists() -> None:
    for app, target in FACTORIES.items():
        module, _, name = target.partition(":")
        assert callable(getattr(importlib.import_module(module), name)), app


def test_the_served_app_is_frozen_after_it_is_built() -> None:
    gc.unfreeze()
    try:
        app = Litestar(route_handlers=[])
        assert _frozen(app) is app
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
