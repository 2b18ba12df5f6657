"""The cashier's view of amounts at the edges: :mod:`core.money`, with the cashier's own error, so a
refusal of a typed amount is a :class:`~cashier.errors.CashierError` like every other cashier refusal.
"""

from __future__ import annotations

from cashier.errors import InvalidAmountError
from core import money
from core.money import format_amount

__all__ = ["format_amount", "parse_amount"]


def parse_amount(text: str, scale: int) -> int:
    """``"12.34"`` with scale 2 as ``1234``; refuses zero, negatives, too many decimals and absurd sizes."""
    try:
        return money.parse_amount(text, scale)
    except money.InvalidAmountError as exc:
        raise InvalidAmountError(str(exc)) from None
