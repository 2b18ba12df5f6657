"""The error tree, retcode parsing and the adapter protocol's shape."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import BrokerDeskError
from mt_bridge import errors
from mt_bridge.errors import (
    MoneyLimitError,
    MtBridgeError,
    NotEnoughMoneyError,
    PlatformRejectedError,
    error_for_retcode,
)
from mt_bridge.mt5.client import Mt5WebApiPlatform
from mt_bridge.mt5.settings import Mt5ServerSettings
from mt_bridge.platform import DealQuery, PositionQuery, TradingPlatform
from mt_bridge.retcodes import format_retcode, parse_retcode


def test_retcodes_map_to_precise_errors() -> None:
    assert isinstance(error_for_retcode(4005), MoneyLimitError)
    assert isinstance(error_for_retcode(10019), NotEnoughMoneyError)
    unknown = error_for_retcode(4242, "Odd", "/api/x")
    assert type(unknown) is PlatformRejectedError
    assert unknown.retcode == 4242
    assert "/api/x" in str(unknown)


def test_every_leaf_error_is_a_brokerdesk_error_with_a_raised_when_docstring() -> None:
    classes = [
        obj for _, obj in inspect.getmembers(errors, inspect.isclass) if issubclass(obj, MtBridgeError)
    ]
    assert len(classes) >= 12
    for error_class in classes:
        assert issubclass(error_class, BrokerDeskError)
        if error_class is MtBridgeError:
            continue
        assert (error_class.__doc__ or "").startswith("Raised when"), error_class.__name__


def test_retcode_text_round_trips() -> None:
    assert format_retcode(10019) == "10019 Not enough money"
    assert parse_retcode("0 Done") == (0, "Done")
    assert parse_retcode("3006 Invalid account password") == (3006, "Invalid account password")
    with pytest.raises(ValueError, match="invalid literal"):
        parse_retcode("Done")


def test_mt5_client_satisfies_the_protocol() -> None:
    client = Mt5WebApiPlatform(Mt5ServerSettings("https://127.0.0.1:1", 1000, "x"))
    assert isinstance(client, TradingPlatform)


def test_queries_name_logins_or_a_group_and_a_utc_window() -> None:
    now = datetime.now(UTC)
    DealQuery(since=now, until=now + timedelta(seconds=1), logins=[1])
    with pytest.raises(ValueError, match="either logins or a group"):
        DealQuery(since=now, until=now + timedelta(seconds=1))
    with pytest.raises(ValueError, match="either logins or a group"):
        DealQuery(since=now, until=now + timedelta(seconds=1), logins=[1], group="*")
    with pytest.raises(ValueError, match="timezone-aware"):
        DealQuery(since=now.replace(tzinfo=None), until=now + timedelta(seconds=1), logins=[1])
    with pytest.raises(ValueError, match="end after it starts"):
        DealQuery(since=now, until=now, logins=[1])
    with pytest.raises(ValueError, match="either logins or a group"):
        PositionQuery()


def test_manager_password_is_not_in_settings_repr() -> None:
    settings = Mt5ServerSettings("https://127.0.0.1:1", 1000, "Sekret1!")
    assert "Sekret1!" not in repr(settings)


@pytest.mark.parametrize(
    "answer",
    [
        {"retcode": "0 Done", "answer": {"Total": "10"}},
        {"retcode": "0 Done", "answer": {"total": "10"}},
        {"retcode": "0 Done", "Total": "10"},
        {"retcode": "0 Done", "total": 10},
    ],
)
def test_get_total_is_read_in_every_known_shape(answer: dict[str, object]) -> None:
    from mt_bridge.mt5.client import total_from_answer

    assert total_from_answer(answer) == 10


def test_get_total_without_a_count_is_a_protocol_error() -> None:
    from mt_bridge.errors import ProtocolError
    from mt_bridge.mt5.client import total_from_answer

    with pytest.raises(ProtocolError):
        total_from_answer({"retcode": "0 Done", "answer": {}})
