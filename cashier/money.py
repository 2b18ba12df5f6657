"""Amounts at the edges: text typed by a person to integer minor units, and back for display.

Money inside BrokerDesk is an ``int`` of minor units. ``Decimal`` appears only here, when a person's
text is parsed or an amount is shown; a float never holds money.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation

from cashier.errors import InvalidAmountError

MAX_MAJOR_DIGITS = 12
"""Absurd-amount guard: nobody deposits or withdraws a trillion units of anything through a form."""


def parse_amount(text: str, scale: int) -> int:
    """``"12.34"`` with scale 2 as ``1234``; refuses zero, negatives, too many decimals and absurd sizes."""
    cleaned = (text or "").strip().replace(",", "").replace(" ", "")
    if not cleaned:
        raise InvalidAmountError("Enter an amount.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidAmountError("Enter the amount as a number, such as 100.50.") from None
    if not value.is_finite():
        raise InvalidAmountError("Enter the amount as a number, such as 100.50.")
    if value <= 0:
        raise InvalidAmountError("The amount must be more than zero.")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > scale and value != value.quantize(Decimal(1).scaleb(-scale)):
        raise InvalidAmountError(f"This currency takes at most {scale} decimal places.")
    if value >= Decimal(10) ** MAX_MAJOR_DIGITS:
        raise InvalidAmountError("This amount is too large.")
    return int(value.scaleb(scale))


def format_amount(minor: int, scale: int) -> str:
    """``1234`` with scale 2 as ``"12.34"``, with thousands separators."""
    major = Decimal(minor).scaleb(-scale)
    return f"{major:,.{scale}f}"


def amount_formatter(scales: Mapping[str, int]) -> Callable[[int | None, str], str]:
    """``money(minor, currency)`` for templates: the amount with its code, each currency at its
    own scale (2 when unknown); nothing for ``None``."""

    def money(minor: int | None, currency: str) -> str:
        return "" if minor is None else f"{format_amount(minor, scales.get(currency, 2))} {currency}"

    return money
