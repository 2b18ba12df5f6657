"""Every rule type and condition, with hand-worked examples: the tree, the deals, the amount per IB.

All amounts are minor units (cents). Each example is run through the production calculation core.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ib.rounding import lots_to_units, round_commission_down
from tests.unit.ib.scenarios import close, run

CHAIN = [("A", None, "gold"), ("B", "A", "silver"), ("C", "B", "bronze"), ("D", "C", None)]


def fixed(amount: int, **extra: object) -> dict[str, object]:
    return {"code": "fx", "kind": "fixed", "params": {"amount_per_lot": amount}, **extra}


# -- fixed per lot -------------------------------------------------------------------------------


def test_fixed_pays_the_direct_ib_per_lot() -> None:
    # A <- B; client 100 is B's; 1.5 lots x 700 = 1050 to B, nothing to A.
    totals = run([fixed(700)], ibs=CHAIN[:2], clients={100: "B"}, deals=[close(1, 100, "1.5")])
    assert totals == {"B": 1050}


def test_fixed_rounds_down_in_the_house_favour() -> None:
    # 0.33 lots x 333 = 109.89 -> 109
    assert run([fixed(333)], ibs=CHAIN[:1], clients={100: "A"}, deals=[close(1, 100, "0.33")]) == {"A": 109}


def test_sub_ib_allocation_cascades_the_rate() -> None:
    # Scheme rate 1000; A gives B 600; B gives C 250. Client of C closes 2 lots:
    # C 2 x 250 = 500; B 2 x (600 - 250) = 700; A 2 x (1000 - 600) = 800. Total = 2 x 1000.
    allocations = [
        {"giver": "A", "receiver": "B", "rule": "fx", "amount_per_lot": 600},
        {"giver": "B", "receiver": "C", "rule": "fx", "amount_per_lot": 250},
    ]
    totals = run(
        [fixed(1000)], ibs=CHAIN[:3], clients={100: "C"}, deals=[close(1, 100, "2")], allocations=allocations
    )
    assert totals == {"C": 500, "B": 700, "A": 800}


def test_an_allocation_never_exceeds_the_giver_rate() -> None:
    # A holds 1000 but "gives" B 1500: B gets 1000 (clamped), A keeps 0. Never more than the rate.
    allocations = [{"giver": "A", "receiver": "B", "rule": "fx", "amount_per_lot": 1500}]
    totals = run(
        [fixed(1000)], ibs=CHAIN[:2], clients={100: "B"}, deals=[close(1, 100, "1")], allocations=allocations
    )
    assert totals == {"B": 1000}


# -- per level -----------------------------------------------------------------------------------


def test_per_level_pays_each_level_its_amount() -> None:
    # A <- B <- C <- D; client of D closes 1 lot; levels [500, 300, 100]:
    # D (1) 500, C (2) 300, B (3) 100, A (4) nothing.
    rule = {"code": "lv", "kind": "per_level", "params": {"amounts_per_lot": [500, 300, 100]}}
    totals = run([rule], ibs=CHAIN, clients={100: "D"}, deals=[close(1, 100, "1")])
    assert totals == {"D": 500, "C": 300, "B": 100}


# -- rank differential ---------------------------------------------------------------------------


def test_rank_differential_pays_each_increment_to_the_nearest_upline_at_or_above_it() -> None:
    # Increments per lot: bronze 300, silver 200, gold 100.
    # Upline of client 100: C (bronze) <- B (bronze) <- A (gold). 2 lots:
    #   bronze -> C (nearest at/above bronze): 2 x 300 = 600
    #   silver -> nobody silver below A; A (gold) is nearest at/above silver: 2 x 200 = 400
    #   gold   -> A: 2 x 100 = 200; A total 600. B (bronze, behind C) gets nothing.
    rule = {
        "code": "rk",
        "kind": "rank_differential",
        "params": {"increments_per_lot": {"bronze": 300, "silver": 200, "gold": 100}},
    }
    ibs = [("A", None, "gold"), ("B", "A", "bronze"), ("C", "B", "bronze")]
    assert run([rule], ibs=ibs, clients={100: "C"}, deals=[close(1, 100, "2")]) == {"C": 600, "A": 600}


def test_rank_differential_with_every_rank_present() -> None:
    # C bronze <- B silver <- A gold; 1 lot: C 300, B 200, A 100.
    rule = {
        "code": "rk",
        "kind": "rank_differential",
        "params": {"increments_per_lot": {"bronze": 300, "silver": 200, "gold": 100}},
    }
    totals = run([rule], ibs=CHAIN[:3], clients={100: "C"}, deals=[close(1, 100, "1")])
    assert totals == {"C": 300, "B": 200, "A": 100}


# -- spread share --------------------------------------------------------------------------------


def test_spread_share_prices_the_spread_from_digits_and_contract_size() -> None:
    # EURUSD, 5 digits: 12 points x 0.00001 x 100000 x 1 lot = 12.00 USD = 1200 cents; 50% = 600.
    rule = {"code": "sp", "kind": "spread_share", "params": {"spread_points": "12", "percent": "50"}}
    assert run([rule], ibs=CHAIN[:1], clients={100: "A"}, deals=[close(1, 100, "1")]) == {"A": 600}


def test_spread_share_on_gold_rounds_down() -> None:
    # XAUUSD, 2 digits, 100 oz: 7 points x 0.01 x 100 x 0.33 lots = 2.31 USD = 231 cents;
    # 33% = 76.23 -> 76.
    rule = {"code": "sp", "kind": "spread_share", "params": {"spread_points": "7", "percent": "33"}}
    deal = close(1, 100, "0.33", symbol="XAUUSD", contract_size="100")
    assert run([rule], ibs=CHAIN[:1], clients={100: "A"}, deals=[deal]) == {"A": 76}


# -- percentage of platform commission -----------------------------------------------------------


def test_platform_commission_share() -> None:
    # The platform charged 14.00 (commission -1400) and 3.33 (-333): 25% of 1400 = 350;
    # 25% of 333 = 83.25 -> 83. Total 433.
    rule = {"code": "pc", "kind": "platform_commission_share", "params": {"percent": "25"}}
    deals = [close(1, 100, "1", commission=-1400), close(2, 100, "1", commission=-333)]
    assert run([rule], ibs=CHAIN[:1], clients={100: "A"}, deals=deals) == {"A": 433}


# -- percentage of profit ------------------------------------------------------------------------


def test_profit_share_takes_a_share_of_profits_only() -> None:
    # Profits 42.00 and a loss of 18.00: 10% of 4200 = 420; the loss earns nothing.
    rule = {"code": "pf", "kind": "profit_share", "params": {"percent": "10"}}
    deals = [close(1, 100, "1", profit=4200), close(2, 100, "1", profit=-1800)]
    assert run([rule], ibs=CHAIN[:1], clients={100: "A"}, deals=deals) == {"A": 420}


def test_profit_share_on_the_loss_basis() -> None:
    # basis loss: 20% of the 18.00 loss = 360; the profitable deal earns nothing.
    rule = {"code": "pf", "kind": "profit_share", "params": {"percent": "20", "basis": "loss"}}
    deals = [close(1, 100, "1", profit=4200), close(2, 100, "1", profit=-1800)]
    assert run([rule], ibs=CHAIN[:1], clients={100: "A"}, deals=deals) == {"A": 360}


def test_money_shares_need_the_scheme_currency() -> None:
    # A EUR account under a USD scheme: the profit share can't be paid without a rate; fixed still pays.
    rules = [{"code": "pf", "kind": "profit_share", "params": {"percent": "10"}}, fixed(500)]
    totals = run(
        rules,
        ibs=CHAIN[:1],
        clients={100: "A"},
        deals=[close(1, 100, "1", profit=4200)],
        currencies={100: "EUR"},
    )
    assert totals == {"A": 500}


# -- overriding ----------------------------------------------------------------------------------


def test_overriding_pays_a_share_of_what_the_direct_downline_earned() -> None:
    # A <- B <- C; fixed 700 pays C 700 for 1 lot; overriding 10%: B gets 70 (of C's 700).
    # A gets nothing: B's 70 is itself an overriding line, which does not override again.
    rules = [fixed(700), {"code": "ov", "kind": "overriding", "params": {"percent": "10"}}]
    totals = run(rules, ibs=CHAIN[:3], clients={100: "C"}, deals=[close(1, 100, "1")])
    assert totals == {"C": 700, "B": 70}


def test_overriding_sums_the_downline_lines_of_every_rule() -> None:
    # per level [500, 300]: C 500 (level 1), B 300 (level 2). Overriding 15%:
    # B gets 15% of C's 500 = 75; A gets 15% of B's 300 = 45.
    rules = [
        {"code": "lv", "kind": "per_level", "params": {"amounts_per_lot": [500, 300]}},
        {"code": "ov", "kind": "overriding", "params": {"percent": "15"}},
    ]
    totals = run(rules, ibs=CHAIN[:3], clients={100: "C"}, deals=[close(1, 100, "1")])
    assert totals == {"C": 500, "B": 375, "A": 45}


# -- CPA -----------------------------------------------------------------------------------------


def cpa(amount: int = 15000) -> dict[str, object]:
    return {
        "code": "cpa",
        "kind": "cpa",
        "params": {"amount": amount, "min_first_deposit": 20000, "min_lots": "2"},
    }


def test_cpa_pays_once_when_deposit_and_lots_qualify() -> None:
    # Client 100 deposited 500.00; closes 1.5, then 1 (2.5 >= 2: qualifies, CPA 150.00), then 1 (nothing).
    deals = [
        close(1, 100, "1.5"),
        close(2, 100, "1", time="2026-11-03T10:00:00Z", opened_at="2026-11-03T09:00:00Z"),
        close(3, 100, "1", time="2026-11-04T10:00:00Z", opened_at="2026-11-04T09:00:00Z"),
    ]
    totals = run(
        [cpa()],
        ibs=CHAIN[:1],
        clients={100: "A"},
        deals=deals,
        deposits={100: (50000, "2026-11-01T00:00:00Z")},
    )
    assert totals == {"A": 15000}


def test_cpa_needs_the_minimum_first_deposit() -> None:
    # Deposit 100.00 < 200.00: never qualifies, whatever the lots.
    deals = [close(1, 100, "5")]
    totals = run(
        [cpa()],
        ibs=CHAIN[:1],
        clients={100: "A"},
        deals=deals,
        deposits={100: (10000, "2026-11-01T00:00:00Z")},
    )
    assert totals == {}


def test_cpa_counts_lots_from_the_deals_in_order() -> None:
    # Two clients: 100 trades 1 lot (not qualified), 101 trades 2 (qualified). Only 101's IB earns.
    deals = [close(1, 100, "1"), close(2, 101, "2")]
    deposits = {100: (50000, "2026-11-01T00:00:00Z"), 101: (50000, "2026-11-01T00:00:00Z")}
    totals = run([cpa(9000)], ibs=CHAIN[:2], clients={100: "A", 101: "B"}, deals=deals, deposits=deposits)
    assert totals == {"B": 9000}


# -- conditions ----------------------------------------------------------------------------------


def test_minimum_hold_time() -> None:
    # Hold at least 120 s: deal 1 held 60 s pays nothing; deal 2 held 300 s pays 700;
    # deal 3 has no known opening time and pays nothing (house's favour).
    rule = fixed(700, conditions={"min_hold_seconds": 120})
    deals = [
        close(1, 100, "1", opened_at="2026-11-02T09:59:00Z"),
        close(2, 100, "1", opened_at="2026-11-02T09:55:00Z"),
        close(3, 100, "1", opened_at=None),
    ]
    assert run([rule], ibs=CHAIN[:1], clients={100: "A"}, deals=deals) == {"A": 700}


def test_own_trades_are_excluded_by_default() -> None:
    # B (client 2) trades 1 lot on its own account. Fixed 700 would go to B itself: excluded.
    # Per level [500, 300]: B is level 1 (excluded), A level 2 earns 300.
    rules = [fixed(700), {"code": "lv", "kind": "per_level", "params": {"amounts_per_lot": [500, 300]}}]
    assert run(rules, ibs=CHAIN[:2], clients={}, deals=[close(1, 2, "1")]) == {"A": 300}


def test_own_trades_can_be_included() -> None:
    rule = fixed(700, conditions={"include_own_trades": True})
    assert run([rule], ibs=CHAIN[:2], clients={}, deals=[close(1, 2, "1")]) == {"B": 700}


def test_daily_cap() -> None:
    # Cap 10.00 a day at 7.00 a lot: day 1: 700 + 300 (capped) + 0; day 2: 700 again. Total 1700.
    rule = fixed(700, conditions={"cap_per_day": 1000})
    deals = [
        close(1, 100, "1"),
        close(2, 100, "1", time="2026-11-02T11:00:00Z"),
        close(3, 100, "1", time="2026-11-02T12:00:00Z"),
        close(4, 100, "1", time="2026-11-03T10:00:00Z", opened_at="2026-11-03T09:00:00Z"),
    ]
    assert run([rule], ibs=CHAIN[:1], clients={100: "A"}, deals=deals) == {"A": 1700}


def test_monthly_cap() -> None:
    # Cap 15.00 a month: 700 + 700 + 100 in November; December starts afresh with 700. Total 2200.
    rule = fixed(700, conditions={"cap_per_month": 1500})
    deals = [
        close(1, 100, "1"),
        close(2, 100, "1", time="2026-11-10T10:00:00Z"),
        close(3, 100, "1", time="2026-11-20T10:00:00Z"),
        close(4, 100, "1", time="2026-12-01T10:00:00Z", opened_at="2026-12-01T09:00:00Z"),
    ]
    assert run([rule], ibs=CHAIN[:1], clients={100: "A"}, deals=deals) == {"A": 2200}


def test_eligible_account_types() -> None:
    # Only raw accounts earn: client 100 (standard) earns nothing, client 101 (raw) 700.
    rule = fixed(700, conditions={"account_types": ["raw"]})
    deals = [close(1, 100, "1"), close(2, 101, "1")]
    totals = run(
        [rule],
        ibs=CHAIN[:2],
        clients={100: "A", 101: "B"},
        deals=deals,
        account_types={101: "raw", 100: "standard"},
    )
    assert totals == {"B": 700}


def test_the_most_specific_rule_of_a_kind_wins() -> None:
    # fixed: any symbol 500; metals group 900; XAUUSD itself 1200; raw accounts on forex 300.
    rules = [
        {"code": "any", "kind": "fixed", "params": {"amount_per_lot": 500}},
        {"code": "metals", "kind": "fixed", "symbol_group": "metals", "params": {"amount_per_lot": 900}},
        {"code": "gold", "kind": "fixed", "symbol": "XAUUSD", "params": {"amount_per_lot": 1200}},
        {
            "code": "raw-fx",
            "kind": "fixed",
            "symbol_group": "forex",
            "account_type": "raw",
            "params": {"amount_per_lot": 300},
        },
    ]
    deals = [
        close(1, 100, "1"),  # EURUSD standard -> any 500
        close(2, 100, "1", symbol="XAUUSD", contract_size="100"),  # gold 1200
        close(3, 101, "1"),  # EURUSD raw -> raw-fx 300
    ]
    totals = run(rules, ibs=CHAIN[:2], clients={100: "A", 101: "B"}, deals=deals, account_types={101: "raw"})
    assert totals == {"A": 1700, "B": 300}


# -- rounding points -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exact", "expected"),
    [("99.999", 99), ("100", 100), ("0.5", 0), ("-3.2", 0), ("0", 0), ("12345678901234.99", 12345678901234)],
)
def test_round_commission_down(exact: str, expected: int) -> None:
    assert round_commission_down(Decimal(exact)) == expected


def test_volumes_are_kept_exactly() -> None:
    assert lots_to_units(Decimal("0.01")) == 1_000_000
    with pytest.raises(ValueError, match="finer"):
        lots_to_units(Decimal("0.000000001"))
