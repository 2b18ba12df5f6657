"""Structured logs in production."""

from __future__ import annotations

import json
import logging

from core.logging import JsonFormatter


def test_json_formatter_writes_one_object_with_extras() -> None:
    record = logging.makeLogRecord(
        {
            "name": "cashier",
            "levelname": "WARNING",
            "msg": "deposit %s refused",
            "args": ("D-1",),
            "psp": "sandbox",
        }
    )
    line = JsonFormatter().format(record)
    payload = json.loads(line)
    assert payload["message"] == "deposit D-1 refused"
    assert payload["level"] == "warning"
    assert payload["logger"] == "cashier"
    assert payload["psp"] == "sandbox"
    assert "\n" not in line
