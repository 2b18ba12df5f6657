"""Numbers arrive as strings and must be read exactly; money leaves as integer minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mt_bridge.errors import ProtocolError
from mt_bridge.models import decimal_text
from mt_bridge.money import from_minor_units, to_minor_units
from mt_bridge.mt5.numbers import as_int, decimal_field, int_field, parse_json


def test_json_numbers_never_become_floats() -> None:
    parsed = parse_json(b'{"a": 0.1, "b": "0.1", "c": 12345678901234567890}')
    assert parsed["a"] == Decimal("0.1")
    assert isinstance(parsed["a"], Decimal)
    assert parsed["c"] == 12345678901234567890


def test_string_numbers_are_exact() -> None:
    record = {"Deal": "11918642", "Price": "1.08517", "Profit": "-0.30"}
    assert int_field(record, "Deal") == 11918642
    assert decimal_field(record, "Price") == Decimal("1.08517")
    assert decimal_field(record, "Profit") == Decimal("-0.30")


def test_fields_match_without_letter_case() -> None:
    assert int_field({"total": "10"}, "Total") == 10
    assert int_field({"TOTAL": "7"}, "total") == 7


def test_missing_field_without_default_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        int_field({}, "Deal")
    assert int_field({}, "Deal", 0) == 0


def test_integer_with_a_fraction_is_refused() -> None:
    with pytest.raises(ProtocolError):
        as_int("1.5", "Login")
    assert as_int("15.000", "Login") == 15


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", True])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(ProtocolError):
        decimal_field({"Price": value}, "Price")


@pytest.mark.parametrize(
    ("amount", "digits", "minor"),
    [
        (Decimal("1234.56"), 2, 123456),
        (Decimal("-0.01"), 2, -1),
        (Decimal("1500"), 0, 1500),
        (Decimal("0.000001"), 6, 1),
        (Decimal("12.3"), 2, 1230),
    ],
)
def test_to_minor_units_is_exact_at_the_currency_scale(amount: Decimal, digits: int, minor: int) -> None:
    assert to_minor_units(amount, digits) == minor


def test_float_noise_past_the_currency_digits_rounds_to_the_servers_value() -> None:
    # The platform printed a double: 0.1 + 0.2 style noise past the cents is not money.
    assert to_minor_units(Decimal("0.30000000000000004"), 2) == 30
    assert to_minor_units(Decimal("-12.3399999999"), 2) == -1234


def test_from_minor_units_round_trips() -> None:
    assert from_minor_units(123456, 2) == Decimal("1234.56")
    assert to_minor_units(from_minor_units(-987, 2), 2) == -987
    assert from_minor_units(1500, 0) == Decimal(1500)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimal_text_is_always_the_positional_text(value: Decimal) -> None:
    # The quick ``str`` and the exact ``format(value, "f")`` must store one text for one value.
    assert decimal_text(value) == format(value, "f")
    assert Decimal(decimal_text(value)) == value
    assert "E" not in decimal_text(value)
