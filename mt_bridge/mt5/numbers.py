"""Exact reading of Web API answers, whose numbers arrive as JSON strings (``"Deal":"11918642"``).

JSON is parsed with ``Decimal`` for any bare number too, so a float never appears (``NaN`` and
``Infinity`` are not JSON and are refused); fields are looked up without regard to letter case
because servers differ (``Total`` or ``total``). The decoder is msgspec's, written in C: a
10,000-deal answer is several megabytes, and the standard library's decoder took as long as
everything else the sync does with a deal.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from mt_bridge.errors import ProtocolError

_DECODER = msgspec.json.Decoder(float_hook=Decimal)


class _Envelope(msgspec.Struct):
    retcode: Any = None
    answer: msgspec.Raw = msgspec.Raw(b"[]")


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def parse_json(raw: bytes | str) -> Any:
    """Decode JSON with every non-integer number as ``Decimal``."""
    try:
        return _DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"the answer is not JSON: {exc}") from exc


def parse_envelope(raw: bytes) -> dict[str, Any]:
    """An answer's ``retcode`` decoded and its ``answer`` left as raw JSON bytes (``[]`` when
    absent), for a caller that decodes a big ``answer`` itself."""
    try:
        envelope = _ENVELOPE.decode(raw)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"the answer is not a JSON object: {exc}") from exc
    parts: dict[str, Any] = {"answer": bytes(envelope.answer)}
    if envelope.retcode is not None:
        parts["retcode"] = envelope.retcode
    return parts


def find_field(record: Mapping[str, Any], name: str) -> Any:
    """The value of ``name`` in ``record``, matched case-insensitively; None when absent."""
    if name in record:
        return record[name]
    lowered = name.lower()
    for key, value in record.items():
        if key.lower() == lowered:
            return value
    return None


def as_int(value: Any, field: str = "") -> int:
    """An exact integer from a string or JSON number; decimals with a fraction are refused."""
    if isinstance(value, bool):
        raise ProtocolError(f"field {field or '?'} is a boolean, not a number")
    if isinstance(value, int):
        return value
    number = as_decimal(value, field)
    if number != number.to_integral_value():
        raise ProtocolError(f"field {field or '?'} should be an integer, got {value!r}")
    return int(number)


def as_decimal(value: Any, field: str = "") -> Decimal:
    """An exact decimal from a string or JSON number."""
    if isinstance(value, bool) or value is None:
        raise ProtocolError(f"field {field or '?'} is missing or not a number: {value!r}")
    if isinstance(value, Decimal):
        return value
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ProtocolError(f"field {field or '?'} is not a number: {value!r}") from exc
    if not number.is_finite():
        raise ProtocolError(f"field {field or '?'} is not a finite number: {value!r}")
    return number


def int_field(record: Mapping[str, Any], name: str, default: int | None = None) -> int:
    """The integer field ``name``; ``default`` when absent, or ProtocolError without one."""
    value = find_field(record, name)
    if value is None or value == "":
        if default is None:
            raise ProtocolError(f"field {name} is missing")
        return default
    return as_int(value, name)


def decimal_field(record: Mapping[str, Any], name: str, default: Decimal | None = None) -> Decimal:
    """The decimal field ``name``; ``default`` when absent, or ProtocolError without one."""
    value = find_field(record, name)
    if value is None or value == "":
        if default is None:
            raise ProtocolError(f"field {name} is missing")
        return default
    return as_decimal(value, name)


def str_field(record: Mapping[str, Any], name: str, default: str = "") -> str:
    """The text field ``name``, or ``default`` when absent."""
    value = find_field(record, name)
    return default if value is None else str(value)
