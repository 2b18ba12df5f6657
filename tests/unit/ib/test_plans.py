"""Plans: the calculation core compiles a scheme once per route (level-1 IB at an epoch) and target,
and every deal of that route and target is paid from it, with the same amounts and explanations
the rules' own calculators give."""

from __future__ import annotations

from ib.calculation import calculate
from ib.rules import DEAL_CALCULATORS
from ib.rules.base import RuleContext, rounded_explanation
from ib.simulator import Scenario
from tests.unit.ib.scenarios import EVERY_PLANNED_RULE as RULES
from tests.unit.ib.scenarios import close, scenario

CHAIN = [("A", None, "gold"), ("B", "A", "silver"), ("C", "B", "bronze")]


def test_clients_of_one_ib_share_a_plan_per_target() -> None:
    # Clients 100 and 101 are C's: EURUSD deals share one plan, the XAUUSD deal has its own.
    # Client 100, 2 lots EURUSD, 600 commission charged, 1000 profit:
    #   C: fixed 2 x 700 = 1400, ranks 2 x 30 = 60, platform 600 x 20% = 120, profit 1000 x 2.5% = 25;
    #   B: levels 2 x 200 = 400; A: levels 2 x 100 = 200, ranks 2 x 20 = 40.
    # Client 101, 0.5 lots EURUSD: C 350 + 15; B 100; A 50 + 10.
    # Client 100, 1 lot XAUUSD (contract 100): spread 30 x 0.01 x 100 = 30.00 = 3000 minor x 35% = 1050
    #   to C, ranks 30 to C and 20 to A, levels 200 to B and 100 to A (no fixed: not forex).
    data = scenario(
        RULES,
        ibs=CHAIN,
        clients={100: "C", 101: "C"},
        deals=[
            close(1, 100, "2", commission=-600, profit=1000),
            close(2, 101, "0.5"),
            close(3, 100, "1", symbol="XAUUSD", contract_size="100"),
        ],
    )
    world = Scenario(data)
    lines = calculate(world.deals, world.network, world.state)
    totals: dict[str, int] = {}
    for line in lines:
        name = world.ib_names[line.beneficiary_id]
        totals[name] = totals.get(name, 0) + line.amount
    assert totals == {"C": 1605 + 365 + 1080, "B": 400 + 100 + 200, "A": 240 + 60 + 120}
    assert len(world.network.plans) == 2


def test_a_plan_pays_what_the_rules_calculators_pay() -> None:
    data = scenario(
        RULES,
        ibs=CHAIN,
        clients={100: "C"},
        deals=[close(1, 100, "1.37", commission=-333, profit=777), close(2, 100, "0.07", symbol="XAUUSD")],
    )
    world = Scenario(data)
    lines = calculate(world.deals, world.network, world.state)
    expected = []
    for deal in sorted(world.deals, key=lambda d: d.time):
        upline, version = world.network.governing(deal.client_id, deal.time)
        assert version is not None
        for rule in sorted(version.rules, key=lambda r: r.code):
            if rule.symbol is not None and rule.symbol != deal.symbol:
                continue
            if rule.symbol_group is not None and rule.symbol_group != deal.symbol_group:
                continue
            context = RuleContext(deal, upline, rule, version, world.network, None)  # type: ignore[arg-type]
            for draft in DEAL_CALCULATORS[rule.kind](context):
                amount, inputs, formula = rounded_explanation(draft.exact, draft.inputs, draft.formula)
                if amount > 0:
                    expected.append(
                        (deal.ticket, draft.member.partner_id, rule.code, amount, inputs, formula)
                    )
    assert [
        (line.ticket, line.beneficiary_id, line.rule_code, line.amount, line.inputs, line.formula)
        for line in lines
    ] == expected
