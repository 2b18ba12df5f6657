"""Web API records become normalised Deal, Position and AccountInfo records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mt_bridge.errors import ProtocolError
from mt_bridge.money import to_minor_units
from mt_bridge.mt5.mapping import account_from_records, deal_from_record, position_from_record
from mt_bridge.mt5.numbers import parse_json
from mt_bridge.mt5.plain_deals import deals_from_answer
from mt_bridge.records import DealAction, DealEntry, PositionSide
from mt_bridge.server_time import ServerClock
from mt_bridge.symbols import SymbolAliases

EET = ServerClock(timedelta(hours=2))
ALIASES = SymbolAliases(aliases={"GOLD": "XAUUSD"}, suffixes=(".m", ".pro"))

DEAL = {
    "Deal": "11918642",
    "Login": "954402",
    "Order": "11918641",
    "PositionID": "11918641",
    "Action": "1",
    "Entry": "1",
    "Symbol": "XAUUSD.m",
    "Time": "1717243200",
    "TimeMsc": "1717243200123",
    "Price": "2350.15",
    "Volume": "1000",
    "VolumeExt": "12345678",
    "VolumeClosed": "1000",
    "VolumeClosedExt": "12345678",
    "Profit": "-152.30",
    "Commission": "-3.50",
    "Storage": "1.2",
    "Fee": "0",
    "DigitsCurrency": "2",
    "ContractSize": "100",
    "Comment": "bd:7f3a",
}


def test_deal_takes_lots_from_volume_ext_when_present() -> None:
    deal = deal_from_record(DEAL, EET, ALIASES)
    assert deal.volume == Decimal("0.12345678")
    assert deal.volume_closed == Decimal("0.12345678")


def test_deal_falls_back_to_volume_in_ten_thousandths() -> None:
    record = {key: value for key, value in DEAL.items() if "Ext" not in key}
    deal = deal_from_record(record, EET, ALIASES)
    assert deal.volume == Decimal("0.1")


def test_deal_money_is_integer_minor_units() -> None:
    deal = deal_from_record(DEAL, EET, ALIASES)
    assert (deal.profit, deal.commission, deal.swap, deal.fee) == (-15230, -350, 120, 0)
    assert all(isinstance(value, int) for value in (deal.profit, deal.commission, deal.swap))


def test_deal_time_is_utc_after_the_server_offset() -> None:
    deal = deal_from_record(DEAL, EET, ALIASES)
    # 1717243200 is 2024-06-01 12:00:00 on the server's clock, which runs 2 h ahead of UTC.
    assert deal.time == datetime(2024, 6, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert deal.server_time_msc == 1717243200123


def test_deal_time_from_seconds_when_msc_is_absent() -> None:
    record = {key: value for key, value in DEAL.items() if key != "TimeMsc"}
    assert deal_from_record(record, EET, ALIASES).time == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


def test_deal_symbol_is_normalised_and_raw_name_kept() -> None:
    deal = deal_from_record(DEAL, EET, ALIASES)
    assert (deal.symbol, deal.raw_symbol) == ("XAUUSD", "XAUUSD.m")
    assert deal.action == DealAction.SELL
    assert deal.entry == DealEntry.OUT
    assert deal.is_trade
    assert not deal.is_balance_operation


def test_balance_deal_is_recognised() -> None:
    record = {
        "Deal": "5",
        "Login": "7",
        "Action": "2",
        "Time": "1717243200",
        "Profit": "100.00",
        "Symbol": "",
    }
    deal = deal_from_record(record, EET, ALIASES)
    assert deal.is_balance_operation
    assert deal.profit == 10000
    assert deal.symbol == ""


def test_yen_account_money_has_no_minor_digits() -> None:
    record = {**DEAL, "DigitsCurrency": "0", "Profit": "-15230"}
    assert deal_from_record(record, EET, ALIASES).profit == -15230


def test_symbol_aliases_table_wins_over_suffixes() -> None:
    assert ALIASES.normalise("GOLD") == "XAUUSD"
    assert ALIASES.normalise("GOLD.pro") == "XAUUSD"
    assert ALIASES.normalise("EURUSD.pro") == "EURUSD"
    assert ALIASES.normalise("EURUSD") == "EURUSD"
    assert ALIASES.normalise(".m") == ".m"


def test_position_mapping() -> None:
    record = {
        "Position": "42",
        "Login": "954402",
        "Symbol": "GOLD",
        "Action": "0",
        "TimeCreateMsc": "1717243200000",
        "TimeUpdateMsc": "1717243260000",
        "PriceOpen": "2350.10",
        "PriceCurrent": "2351.10",
        "Volume": "100",
        "Profit": "10.00",
        "Storage": "-0.55",
        "DigitsCurrency": "2",
    }
    position = position_from_record(record, EET, ALIASES)
    assert position.symbol == "XAUUSD"
    assert position.side == PositionSide.BUY
    assert position.volume == Decimal("0.01")
    assert (position.profit, position.swap) == (1000, -55)
    assert position.opened_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert position.updated_at == datetime(2024, 6, 1, 10, 1, tzinfo=UTC)


def test_account_mapping_uses_the_account_record_for_money() -> None:
    user = {"Login": "7", "Group": "demo\\usd", "Name": "Ann", "Leverage": "100", "Balance": "5.00"}
    account = {
        "CurrencyDigits": "2",
        "Balance": "10.00",
        "Credit": "1.00",
        "Equity": "12.34",
        "Margin": "3.00",
        "MarginFree": "9.34",
    }
    info = account_from_records(user, account, "USD", 2)
    assert (info.balance, info.credit, info.equity, info.margin, info.margin_free) == (
        1000,
        100,
        1234,
        300,
        934,
    )
    assert (info.login, info.group, info.leverage, info.currency) == (7, "demo\\usd", 100, "USD")


def test_new_account_without_state_has_equity_of_balance_and_credit() -> None:
    user = {"Login": "7", "Group": "g", "Name": "Ann", "Leverage": "100", "Balance": "0", "Credit": "0"}
    info = account_from_records(user, None, "JPY", 0)
    assert (info.balance, info.equity, info.margin, info.currency_digits) == (0, 0, 0, 0)


def test_position_with_an_unknown_side_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        position_from_record(
            {"Position": "1", "Login": "2", "Symbol": "EURUSD", "Action": "7", "PriceOpen": "1"}, EET, ALIASES
        )


MONEY_TEXT = st.one_of(
    st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False).map(lambda d: format(d, "f")),
    st.decimals(min_value=-(10**6), max_value=10**6, places=8, allow_nan=False).map(lambda d: format(d, "f")),
    st.sampled_from(
        ["0", "-0", "-0.30", "1.2", "12.", "1e2", "-1.5E-1", " 7.25", "+3.10", "0.30000000000000004"]
    ),
)
INTEGER_TEXT = st.one_of(
    st.integers(min_value=0, max_value=2**63).map(str), st.sampled_from(["15.000", " 42", "1e3", "7_0"])
)


@settings(max_examples=300, deadline=None)
@given(money=MONEY_TEXT, ticket=INTEGER_TEXT, digits=st.sampled_from(["0", "2", "3", "6"]))
def test_the_quick_and_the_general_reading_give_the_same_deal(money: str, ticket: str, digits: str) -> None:
    record = {**DEAL, "Profit": money, "Fee": money, "Deal": ticket, "DigitsCurrency": digits}
    (quick,) = deals_from_answer(json.dumps([record]).encode(), EET, ALIASES)
    assert quick == deal_from_record(record, EET, ALIASES)
    assert quick.profit == to_minor_units(Decimal(money.strip()), int(digits))
    assert quick.ticket == int(Decimal(ticket.strip()))


def test_an_answer_in_another_shape_is_read_the_general_way() -> None:
    lower_case = {key.lower(): value for key, value in DEAL.items()}
    bare_numbers = {**DEAL, "Profit": -152.3, "Deal": 11918642}
    answer = json.dumps([DEAL, lower_case, bare_numbers]).encode()
    quick, spelt_low, numbers = deals_from_answer(answer, EET, ALIASES)
    assert quick == spelt_low == numbers == deal_from_record(DEAL, EET, ALIASES)
    assert (quick.ticket, quick.profit, quick.volume) == (11918642, -15230, Decimal("0.12345678"))


def test_an_answer_that_is_no_list_of_deals_is_a_protocol_error() -> None:
    for answer in (b'{"Deal": "1"}', b"[1, 2]", b"[{", b'[{"Deal": "x"}]'):
        with pytest.raises(ProtocolError):
            deals_from_answer(answer, EET, ALIASES)


def test_bare_json_numbers_in_a_deal_are_read_exactly() -> None:
    answer = parse_json(
        b'{"Deal": 11918642, "Login": 954402, "Action": 1, "Entry": 1, "TimeMsc": 1717243200123,'
        b' "Symbol": "EURUSD", "Price": 1.08517, "VolumeExt": 12345678, "Profit": -152.30,'
        b' "Commission": 0.30000000000000004, "Storage": 1.2, "DigitsCurrency": 2}'
    )
    deal = deal_from_record(answer, EET, ALIASES)
    assert (deal.ticket, deal.price, deal.volume) == (11918642, Decimal("1.08517"), Decimal("0.12345678"))
    assert (deal.profit, deal.commission, deal.swap) == (-15230, 30, 120)


def test_a_deal_field_that_is_no_number_is_a_protocol_error_either_way() -> None:
    for record in ({**DEAL, "Profit": "abc"}, {**DEAL, "Deal": "NaN"}, {**DEAL, "Price": "Infinity"}):
        with pytest.raises(ProtocolError):
            deal_from_record(record, EET, ALIASES)
