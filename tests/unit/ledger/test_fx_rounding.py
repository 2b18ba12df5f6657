"""FX pricing without a database: every rounding point favours the house."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.fx import FxRate, quote_buy, quote_sell, round_client_pays, round_client_receives, round_mid_leg

SCALES = {"USD": 2, "EUR": 2, "JPY": 0, "USDT": 6}
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def rate(base: str, quote: str, value: str, spread: str = "0.002") -> FxRate:
    return FxRate(1, base, quote, Decimal(value), Decimal(spread), "test", NOW)


def test_rounding_point_client_receives_rounds_down() -> None:
    assert round_client_receives(Decimal("1234.999")) == 1234
    assert round_client_receives(Decimal("1234.001")) == 1234
    assert round_client_receives(Decimal("7")) == 7


def test_rounding_point_client_pays_rounds_up() -> None:
    assert round_client_pays(Decimal("1234.001")) == 1235
    assert round_client_pays(Decimal("1234.999")) == 1235
    assert round_client_pays(Decimal("7")) == 7


def test_rounding_point_mid_leg_rounds_half_even() -> None:
    assert round_mid_leg(Decimal("2.5")) == 2
    assert round_mid_leg(Decimal("3.5")) == 4
    assert round_mid_leg(Decimal("3.49")) == 3


def test_sell_usd_for_eur_worked_example() -> None:
    # 100.00 USD at 0.92 EUR/USD mid, 0.2 % spread: mid 92.00 EUR, client 91.816 -> 91.81
    quote = quote_sell(
        rate("USD", "EUR", "0.92"), sell_currency="USD", sell_amount=10_000, buy_currency="EUR", scales=SCALES
    )
    assert (quote.sell_amount, quote.buy_amount, quote.mid_amount, quote.spread_amount) == (
        10_000,
        9_181,
        9_200,
        19,
    )


def test_inverse_direction_and_zero_scale_currency() -> None:
    # selling 10,000 JPY against a USD/JPY rate of 150: mid 66.666.. USD -> 6667 cents, client 66.53 USD
    quote = quote_sell(
        rate("USD", "JPY", "150"), sell_currency="JPY", sell_amount=10_000, buy_currency="USD", scales=SCALES
    )
    assert quote.mid_amount == 6_667
    assert quote.buy_amount == 6_653
    assert quote.spread_amount == 14


def test_buy_a_fixed_amount_worked_example() -> None:
    # the client wants exactly 50.00 EUR: must sell ceil(5000 / (0.92 * 0.998)) cents of USD
    quote = quote_buy(
        rate("USD", "EUR", "0.92"), sell_currency="USD", buy_currency="EUR", buy_amount=5_000, scales=SCALES
    )
    assert quote.sell_amount == 5_446
    assert quote.buy_amount == 5_000
    assert quote.mid_amount == 5_010


def test_a_rate_that_does_not_price_the_pair_is_refused() -> None:
    from ledger.errors import InvalidRateError

    with pytest.raises(InvalidRateError):
        quote_sell(
            rate("USD", "EUR", "0.9"), sell_currency="GBP", sell_amount=1, buy_currency="EUR", scales=SCALES
        )


PAIRS = st.sampled_from([("USD", "EUR"), ("EUR", "USD"), ("USD", "JPY"), ("JPY", "USD"), ("USDT", "EUR")])
RATES = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("20000"), places=6)
SPREADS = st.decimals(min_value=Decimal("0"), max_value=Decimal("0.05"), places=5)


@settings(max_examples=300, deadline=None)
@given(pair=PAIRS, value=RATES, spread=SPREADS, amount=st.integers(1, 10**12), inverse_rate=st.booleans())
def test_selling_never_pays_the_client_more_than_the_exact_value(
    pair: tuple[str, str], value: Decimal, spread: Decimal, amount: int, inverse_rate: bool
) -> None:
    sell, buy = pair
    fx = (
        rate(buy, sell, str(value), str(spread)) if inverse_rate else rate(sell, buy, str(value), str(spread))
    )
    quote = quote_sell(fx, sell_currency=sell, sell_amount=amount, buy_currency=buy, scales=SCALES)
    sold = Decimal(amount).scaleb(-SCALES[sell])
    exact_mid = (sold / fx.rate if inverse_rate else sold * fx.rate) * Decimal(10) ** SCALES[buy]
    exact_client = exact_mid * (1 - spread)
    assert quote.buy_amount <= exact_client + Decimal("1e-20")
    assert exact_client - quote.buy_amount < 1  # rounded down by less than one minor unit
    assert quote.spread_amount >= 0
    assert quote.mid_amount == quote.buy_amount + quote.spread_amount
    assert abs(quote.mid_amount - exact_mid) <= Decimal("0.5") + Decimal("1e-20")


@settings(max_examples=300, deadline=None)
@given(pair=PAIRS, value=RATES, spread=SPREADS, amount=st.integers(1, 10**12))
def test_buying_a_fixed_amount_never_charges_the_client_less_than_the_exact_price(
    pair: tuple[str, str], value: Decimal, spread: Decimal, amount: int
) -> None:
    sell, buy = pair
    fx = rate(sell, buy, str(value), str(spread))
    quote = quote_buy(fx, sell_currency=sell, buy_currency=buy, buy_amount=amount, scales=SCALES)
    exact_sell = Decimal(amount).scaleb(-SCALES[buy]) / (fx.rate * (1 - spread)) * Decimal(10) ** SCALES[sell]
    assert quote.sell_amount >= exact_sell - Decimal("1e-20")
    assert quote.sell_amount - exact_sell < 1
    assert quote.buy_amount == amount
    assert quote.spread_amount >= 0
