"""The simulator: the documented example gives the hand-worked amounts; bad files say what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from ib.errors import ScenarioError
from ib.simulator import load, simulate

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "ib-scenario.json"


def test_the_documented_example_runs_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ib", "simulate", str(EXAMPLE)]) == 0
    result = json.loads(capsys.readouterr().out)
    # Deal 1, as worked in docs/ib-scenarios.md.
    deal1 = {
        (line["beneficiary"], line["rule"]): line["amount"]
        for entry in result["ibs"].values()
        for line in entry["lines"]
        if line["ticket"] == 1
    }
    assert deal1 == {
        ("Carol", "fx-fixed"): 375,
        ("Bob", "fx-fixed"): 525,
        ("Alice", "fx-fixed"): 300,
        ("Bob", "levels"): 150,
        ("Alice", "levels"): 75,
        ("Carol", "ranks"): 450,
        ("Bob", "ranks"): 300,
        ("Alice", "ranks"): 150,
        ("Bob", "override"): 82,
        ("Alice", "override"): 97,
    }
    assert result["total"] == sum(entry["total"] for entry in result["ibs"].values())
    for entry in result["ibs"].values():
        assert entry["total"] == sum(line["amount"] for line in entry["lines"])


def test_decimals_in_the_file_are_exact() -> None:
    # 0.1 lots written as a JSON number: 0.1 x 700 = 70 exactly (a float would give 70.00000000000001).
    data = load(
        '{"accounts": {"5100": {"client": 100}}, "ibs": [{"id": "A"}],'
        ' "clients": [{"client": 100, "ib": "A"}],'
        ' "rules": [{"code": "f", "kind": "fixed", "params": {"amount_per_lot": 700}}],'
        ' "deals": [{"ticket": 1, "login": 5100, "symbol": "EURUSD", "lots": 0.1,'
        ' "time": "2026-11-02T10:00:00Z"}]}'
    )
    assert simulate(data)["ibs"]["A"]["lines"][0]["inputs"]["exact"] == "70"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "JSON object"),
        ("{", "not valid JSON"),
        ('{"surprise": 1}', "unknown scenario keys"),
        ('{"rules": [{"code": "x", "kind": "bonus"}]}', "unknown kind"),
        ('{"ibs": [{"id": "A", "parent": "Z"}]}', "unknown parent"),
        (
            '{"deals": [{"ticket": 1, "login": 1, "symbol": "EURUSD", "lots": "1", "time": "x"}]}',
            "unknown login",
        ),
    ],
)
def test_malformed_scenarios_are_explained(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        simulate(load(text))


def test_the_cli_reports_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"ibs": [{"id": "A"}, {"id": "A"}]}')
    assert main(["ib", "simulate", str(path)]) == 2
    assert "appears twice" in capsys.readouterr().err
