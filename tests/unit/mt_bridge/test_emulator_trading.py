"""The emulated trade server's rules and money, exercised directly on its state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mt_bridge.emulator.config import load_config
from mt_bridge.emulator.simulator import TradeSimulator
from mt_bridge.emulator.state import Refusal, TradeServer, check_password_rules, ext_to_lots, matches_mask
from mt_bridge.emulator.trading import close_position, market_deal, rollover
from mt_bridge.records import DealAction, DealEntry, PositionSide

HEDGING = "demo\\forex-usd"
NETTING = "real\\netting-usd"


@pytest.fixture
def server() -> TradeServer:
    return TradeServer(load_config())


def funded(server: TradeServer, group: str, amount: str = "100000.00", leverage: int = 100) -> int:
    user = server.add_user(
        login=0,
        group=group,
        name="T",
        leverage=leverage,
        password_main="Main1pass!",
        password_investor="Inv1pass!",
    )
    server.balance_operation(user.login, 2, Decimal(amount), "seed")
    return user.login


@pytest.mark.parametrize(
    "password", ["short1!", "alllower1!", "ALLUPPER1!", "NoDigits!!", "NoSpecial12", "A" * 17 + "a1!"]
)
def test_password_rules_refuse_weak_passwords(password: str) -> None:
    with pytest.raises(Refusal) as refused:
        check_password_rules(password)
    assert refused.value.retcode == 3006


def test_group_masks_include_and_exclude() -> None:
    assert matches_mask("demo\\forex-usd", "demo*")
    assert not matches_mask("demo\\forex-usd", "demo*,!demo\\forex*")
    assert matches_mask("real\\eur", "demo*,real*")
    assert not matches_mask("real\\eur", "")


def test_hedging_partial_then_full_close_books_exact_money(server: TradeServer) -> None:
    login = funded(server, HEDGING)
    server.market.set_mid("EURUSD", Decimal("1.10000"))
    opened = market_deal(server, login, "EURUSD", PositionSide.BUY, Decimal("1.00"))
    assert (opened.action, opened.entry, opened.price) == (DealAction.BUY, DealEntry.IN, Decimal("1.10005"))
    assert opened.commission == Decimal("-3.50")

    server.market.set_mid("EURUSD", Decimal("1.10200"))
    partial = close_position(server, opened.position_id, Decimal("0.40"))
    # Closed at the bid 1.10195: (1.10195 - 1.10005) * 0.4 lot * 100000 = 76.00 USD.
    assert (partial.action, partial.entry) == (DealAction.SELL, DealEntry.OUT)
    assert partial.profit == Decimal("76.00")
    assert partial.commission == Decimal("-1.40")
    assert ext_to_lots(partial.volume_closed_ext) == Decimal("0.40")
    assert ext_to_lots(server.positions[opened.position_id].volume_ext) == Decimal("0.60")

    final = close_position(server, opened.position_id)
    assert final.profit == Decimal("114.00")
    assert opened.position_id not in server.positions
    assert server.users[login].balance == Decimal("100000.00") - Decimal("3.50") + Decimal("76.00") - Decimal(
        "1.40"
    ) + Decimal("114.00") - Decimal("2.10")


def test_netting_reversal_is_an_inout_deal(server: TradeServer) -> None:
    login = funded(server, NETTING)
    server.market.set_mid("EURUSD", Decimal("1.10000"))
    opened = market_deal(server, login, "EURUSD", PositionSide.BUY, Decimal("0.50"))
    server.market.set_mid("EURUSD", Decimal("1.09900"))
    reversal = market_deal(server, login, "EURUSD", PositionSide.SELL, Decimal("1.50"))
    assert reversal.entry == DealEntry.INOUT
    assert ext_to_lots(reversal.volume_ext) == Decimal("1.50")
    assert ext_to_lots(reversal.volume_closed_ext) == Decimal("0.50")
    # The loss is on the closed half lot only: (1.09895 - 1.10005) * 0.5 * 100000 = -55.00.
    assert reversal.profit == Decimal("-55.00")
    assert reversal.commission == Decimal("-7.50")
    position = server.positions[opened.position_id]
    assert position.side == PositionSide.SELL
    assert ext_to_lots(position.volume_ext) == Decimal("1.00")


def test_swap_is_booked_on_the_position_and_realised_at_close(server: TradeServer) -> None:
    login = funded(server, HEDGING)
    opened = market_deal(server, login, "EURUSD", PositionSide.BUY, Decimal("2.00"))
    rollover(server)
    assert server.positions[opened.position_id].storage == Decimal("-13.00")
    balance_before = server.users[login].balance
    closed = close_position(server, opened.position_id, Decimal("1.00"))
    assert closed.storage == Decimal("-6.50")
    assert server.users[login].balance == balance_before + closed.profit + closed.commission + closed.storage


def test_profit_in_yen_is_converted_to_the_deposit_currency(server: TradeServer) -> None:
    login = funded(server, HEDGING)
    server.market.set_mid("USDJPY", Decimal("150.000"))
    opened = market_deal(server, login, "USDJPY", PositionSide.SELL, Decimal("1.00"))
    server.market.set_mid("USDJPY", Decimal("149.000"))
    closed = close_position(server, opened.position_id)
    # Sold at the bid 149.994, bought back at the ask 149.006: 98,800 JPY at 149.000 is 663.09 USD.
    assert closed.profit == Decimal("663.09")


def test_balance_rules(server: TradeServer) -> None:
    login = funded(server, HEDGING, "500.00")
    with pytest.raises(Refusal) as over_limit:
        server.balance_operation(login, 2, Decimal("1000000000.01"), "")
    assert over_limit.value.retcode == 4005
    with pytest.raises(Refusal) as too_much:
        server.balance_operation(login, 2, Decimal("-500.01"), "")
    assert too_much.value.retcode == 10019
    with pytest.raises(Refusal) as no_credit:
        server.balance_operation(login, 3, Decimal("-0.01"), "")
    assert no_credit.value.retcode == 10019
    with pytest.raises(Refusal) as sub_cent:
        server.balance_operation(login, 2, Decimal("0.001"), "")
    assert sub_cent.value.retcode == 3
    server.balance_operation(login, 2, Decimal("-500.00"), "all out")
    assert server.users[login].balance == 0


def test_withdrawal_beyond_free_margin_needs_check_margin_off(server: TradeServer) -> None:
    login = funded(server, HEDGING, "2000.00", leverage=100)
    market_deal(server, login, "EURUSD", PositionSide.BUY, Decimal("1.00"))  # about 1,085 USD of margin
    with pytest.raises(Refusal) as refused:
        server.balance_operation(login, 2, Decimal("-1500.00"), "")
    assert refused.value.retcode == 10019
    server.balance_operation(login, 2, Decimal("-1500.00"), "", check_margin=False)
    assert server.users[login].balance < Decimal("500")


def test_simulator_is_deterministic_for_a_seed() -> None:
    def run() -> list[tuple[int, int, int, str, Decimal]]:
        server = TradeServer(load_config())
        funded(server, HEDGING)
        funded(server, NETTING)
        simulator = TradeSimulator(server, server.config.simulator, seed=7)
        return [(d.login, d.action, d.entry, d.symbol, d.profit) for d in simulator.run(120)]

    first, second = run(), run()
    assert first == second
    assert len(first) > 20
