"""The cashier's edges without a database: amounts typed by people, bank identifiers, signatures."""

from __future__ import annotations

import time

import pytest

from cashier.bank_accounts import bic_is_valid, iban_is_valid, looks_like_card
from cashier.errors import InvalidAmountError, RateError, WebhookRejectedError
from cashier.money import format_amount, parse_amount
from cashier.psp.signing import sign, verify
from cashier.rates import parse_rate, read_rates_file


@pytest.mark.parametrize(
    ("text", "scale", "minor"),
    [
        ("12.34", 2, 1234),
        ("1,000", 2, 100_000),
        ("0.01", 2, 1),
        ("12.340", 2, 1234),
        ("150", 0, 150),
        ("0.000001", 6, 1),
        (" 7 ", 2, 700),
    ],
)
def test_amounts_parse_to_minor_units(text: str, scale: int, minor: int) -> None:
    assert parse_amount(text, scale) == minor


@pytest.mark.parametrize(
    ("text", "scale", "message"),
    [
        ("", 2, "Enter an amount"),
        ("abc", 2, "as a number"),
        ("NaN", 2, "as a number"),
        ("Infinity", 2, "as a number"),
        ("0", 2, "more than zero"),
        ("-1", 2, "more than zero"),
        ("1.001", 2, "at most 2 decimal"),
        ("1.5", 0, "at most 0 decimal"),
        ("1e15", 2, "too large"),
        ("1000000000000", 2, "too large"),
    ],
)
def test_bad_amounts_are_refused_with_a_clear_message(text: str, scale: int, message: str) -> None:
    with pytest.raises(InvalidAmountError, match=message):
        parse_amount(text, scale)


def test_amounts_format_with_their_scale() -> None:
    assert format_amount(123456, 2) == "1,234.56"
    assert format_amount(5, 0) == "5"
    assert format_amount(-250, 2) == "-2.50"


def test_iban_mod_97_and_country_length() -> None:
    assert iban_is_valid("GB82 WEST 1234 5698 7654 32")
    assert iban_is_valid("de89370400440532013000")
    assert not iban_is_valid("GB82 WEST 1234 5698 7654 33")  # one digit off
    assert not iban_is_valid("GB82WEST123456987654")  # too short for GB
    assert not iban_is_valid("XX82WEST12345698765432")  # not an IBAN country


def test_bic_format() -> None:
    assert bic_is_valid("WESTGB2L")
    assert bic_is_valid("cobadeffxxx")
    assert not bic_is_valid("WEST")
    assert not bic_is_valid("1ESTGB2L")


def test_card_numbers_are_recognised() -> None:
    assert looks_like_card("4111 1111 1111 1111")
    assert looks_like_card("5500-0000-0000-0004")
    assert not looks_like_card("4111 1111 1111 1112")  # fails Luhn
    assert not looks_like_card("12345678")


def test_signatures_verify_and_refuse() -> None:
    secret, body, now = b"s3cret", b'{"a": 1}', int(time.time())
    verify(secret, sign(secret, now, body), body, now)
    with pytest.raises(WebhookRejectedError, match="bad signature"):
        verify(secret, sign(b"other", now, body), body, now)
    with pytest.raises(WebhookRejectedError, match="bad signature"):
        verify(secret, sign(secret, now, body), body + b" ", now)
    with pytest.raises(WebhookRejectedError, match="stale"):
        verify(secret, sign(secret, now - 301, body), body, now)
    with pytest.raises(WebhookRejectedError, match="malformed"):
        verify(secret, "garbage", body, now)


def test_rates_parse_and_files_load(tmp_path: object) -> None:
    from pathlib import Path

    entry = parse_rate("eur", "usd", "1.0850", "0.002")
    assert (entry.base, entry.quote, str(entry.rate), str(entry.spread)) == ("EUR", "USD", "1.0850", "0.002")
    for rate, spread in (("0", "0"), ("x", "0"), ("1.1", "0.6"), ("1.1", "-0.1")):
        with pytest.raises(RateError):
            parse_rate("EUR", "USD", rate, spread)
    path = Path(str(tmp_path)) / "rates.json"
    path.write_text('[{"base": "EUR", "quote": "USD", "rate": "1.08", "spread": "0.001"}]')
    assert [(e.base, e.quote) for e in read_rates_file(path)] == [("EUR", "USD")]
    path.write_text("{}")
    with pytest.raises(RateError):
        read_rates_file(path)
