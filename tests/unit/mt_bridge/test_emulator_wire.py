"""The emulator's ready-made deal JSON: what it sends is always the deal as it is now."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec
import pytest

from mt_bridge.emulator.api import done
from mt_bridge.emulator.config import load_config
from mt_bridge.emulator.state import DealRecord, Refusal, TradeServer
from mt_bridge.emulator.wire import deal_json, deal_wire, encode, stringify
from mt_bridge.mt5.plain_deals import PlainDeal
from mt_bridge.records import DealAction, DealEntry

GROUP = "demo\\forex-usd"


@pytest.fixture
def server() -> TradeServer:
    server = TradeServer(load_config())
    server.add_user(
        login=0,
        group=GROUP,
        name="T",
        leverage=100,
        password_main="Main1pass!",
        password_investor="Inv1pass!",
    )
    return server


def closing_deal(server: TradeServer, time_msc: int, profit: str = "-152.30") -> DealRecord:
    deal = DealRecord(
        ticket=server.next_ticket(),
        login=next(iter(server.users)),
        action=DealAction.SELL,
        entry=DealEntry.OUT,
        time_msc=time_msc,
        symbol="EURUSD",
        price=Decimal("1.08512"),
        volume_ext=12_345_678,
        volume_closed_ext=12_345_678,
        profit=Decimal(profit),
        commission=Decimal("-3.50"),
        digits=5,
        contract_size=Decimal(100_000),
    )
    server.record_deal(deal)
    return deal


def sent(deal: DealRecord) -> dict[str, str]:
    answer: dict[str, str] = json.loads(encode(done(answer=deal_wire(deal))))["answer"]
    return answer


def test_a_recorded_deal_is_sent_with_every_number_as_a_string(server: TradeServer) -> None:
    deal = closing_deal(server, 1_717_243_200_123)
    assert deal.wire is not None
    answer = sent(deal)
    assert answer == stringify(deal_json(deal))
    assert answer["Profit"] == "-152.30"
    assert answer["VolumeExt"] == "12345678"
    assert answer["Time"] == "1717243200"
    assert all(isinstance(value, str) for value in answer.values())


def test_a_dealer_edit_is_what_the_next_read_sends(server: TradeServer) -> None:
    deal = closing_deal(server, 1_717_243_200_123)
    server.update_deal(deal.ticket, {"profit": Decimal("10.01"), "comment": "fixed"})
    assert (sent(deal)["Profit"], sent(deal)["Comment"]) == ("10.01", "fixed")


def test_any_change_to_a_deal_drops_its_ready_json(server: TradeServer) -> None:
    deal = closing_deal(server, 1_717_243_200_123)
    deal.storage = Decimal("-0.75")
    assert deal.wire is None
    assert sent(deal)["Storage"] == "-0.75"


def test_a_group_window_reads_the_time_index_in_order(server: TradeServer) -> None:
    late = closing_deal(server, 3_000_500)
    early = closing_deal(server, 1_000_000)  # recorded after ``late`` but older: slotted in by time
    middle = closing_deal(server, 2_000_999)
    assert [d.ticket for d in server.deals_between(None, 0, 10**9, group_mask="*")] == [
        early.ticket,
        middle.ticket,
        late.ticket,
    ]
    # Both ends are inclusive at whole seconds: 2,000 s takes 2,000,999 ms; 3,000 s takes 3,000,500 ms.
    assert [d.ticket for d in server.deals_between(None, 2_000, 3_000, group_mask="demo*")] == [
        middle.ticket,
        late.ticket,
    ]
    assert server.deals_between(None, 0, 10**9, group_mask="real*") == []
    server.delete_deal(middle.ticket)
    assert [d.ticket for d in server.deals_between(None, 0, 10**9, group_mask="*")] == [
        early.ticket,
        late.ticket,
    ]


def test_a_deal_is_sent_in_the_plain_shape_the_client_reads_quickly(server: TradeServer) -> None:
    deal = closing_deal(server, 1_717_243_200_123)
    plain = msgspec.json.decode(deal_wire(deal), type=PlainDeal)
    assert (plain.Deal, plain.Profit, plain.VolumeExt, plain.TimeMsc) == (
        str(deal.ticket),
        "-152.30",
        "12345678",
        "1717243200123",
    )


def test_a_refused_edit_changes_neither_the_deal_nor_the_balance(server: TradeServer) -> None:
    deal = closing_deal(server, 1_717_243_200_123)
    user = server.user(deal.login)
    balance, before = user.balance, sent(deal)
    with pytest.raises(Refusal) as refused:
        server.update_deal(deal.ticket, {"profit": Decimal("99.00"), "comment": "x" * 32})
    assert refused.value.retcode == 3
    assert (sent(deal), deal.profit, user.balance) == (before, Decimal("-152.30"), balance)
