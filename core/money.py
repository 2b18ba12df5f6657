"""Amounts at the edges, for every package: text typed by a person to integer minor units, and back.

Money inside BrokerDesk is an ``int`` of minor units. ``Decimal`` appears only here, when a person's
text is parsed or an amount is shown; a float never holds money. The cashier, the IB portal and the
back office all read and show amounts through these functions, so "12.34" means the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.errors import CoreError

MAX_MAJOR_DIGITS = 12
"""Absurd-amount guard: nobody deposits or withdraws a trillion units of anything through a form."""


class InvalidAmountError(CoreError):
    """Raised when an amount typed by a person is not a number within the currency's scale."""


def parse_amount(text: str, scale: int, *, allow_zero: bool = False) -> int:
    """``"12.34"`` with scale 2 as ``1234``; refuses negatives, too many decimals and absurd sizes,
    and zero unless ``allow_zero`` (an IB may pass on nothing of its rate, say)."""
    cleaned = (text or "").strip().replace(",", "").replace(" ", "")
    if not cleaned:
        raise InvalidAmountError("Enter an amount.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidAmountError("Enter the amount as a number, such as 100.50.") from None
    if not value.is_finite():
        raise InvalidAmountError("Enter the amount as a number, such as 100.50.")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidAmountError(
            "The amount cannot be negative." if allow_zero else "The amount must be more than zero."
        )
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


@dataclass(frozen=True)
class MoneyFormat:
    """Amounts as pages show them: ``money(1234, "USD")`` is ``"12.34 USD"``; ``None`` shows nothing.

    Built from the scales of the currencies a page may show (a currency not given shows 2 places).
    """

    scales: Mapping[str, int]

    def __call__(self, minor: int | None, currency: str) -> str:
        if minor is None:
            return ""
        return f"{format_amount(minor, self.scales.get(currency, 2))} {currency}"
