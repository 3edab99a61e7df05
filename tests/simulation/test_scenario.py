"""Scenario files: the shipped ones load, `extends` merges as documented, and every kind of bad
scenario is refused before any run with a message naming the file, the key and what is
allowed."""

from __future__ import annotations

import pytest

from simulation.scenario import ScenarioError, load_scenario, shipped_scenarios

SHIPPED = shipped_scenarios()
BASE = """
[board]
preset = "star"
[[instruments]]
symbol = "AAA"
previous_close = 100_000
shares = 1_000_000
[[population]]
kind = "noise"
count = 5
"""


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_loads_and_its_text_loads_to_the_same_scenario(name):
    scenario = load_scenario(name)
    again = load_scenario(scenario.text)
    assert (again.name, again.board, again.board_overrides) == (
        scenario.name,
        scenario.board,
        scenario.board_overrides,
    )
    assert again.population == scenario.population and again.days == scenario.days


def test_the_study_scenarios_share_a_population_and_differ_in_the_board():
    today, cut, proposed = (
        load_scenario(n) for n in ("regional-today", "fee-cut", "techboard-proposed")
    )
    assert cut.population == today.population
    assert proposed.population[: len(today.population)] == today.population
    assert [g["kind"] for g in proposed.population[len(today.population) :]] == ["market_maker"]
    assert (today.board, cut.board, proposed.board) == ("regional", "regional", "star")
    assert cut.board_overrides == {"fee_schedule": "techboard"}
    assert cut.name == "fee-cut" and cut.description != today.description


def test_extends_merges_tables_and_adds_populations(tmp_path):
    (tmp_path / "base.toml").write_text(BASE + "[fundamental]\nsigma = 1e-4\nkappa = 1e-16\n")
    child = tmp_path / "child.toml"
    child.write_text(
        'extends = "base.toml"\n[fundamental]\nsigma = 3e-4\n'
        '[[population]]\nkind = "momentum"\ncount = 2\n'
    )
    scenario = load_scenario(child)
    assert scenario.name == "child"
    assert (scenario.fundamental["sigma"], scenario.fundamental["kappa"]) == (3e-4, 1e-16)
    assert [g["kind"] for g in scenario.population] == ["noise", "momentum"]


def test_an_extends_circle_is_refused(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n' + BASE)
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n' + BASE)
    with pytest.raises(ScenarioError, match=r"a\.toml: extends = 'b.toml' makes a circle"):
        load_scenario(tmp_path / "a.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1\n" + BASE, "unknown key colour; allowed: extends, name"),
        (BASE.replace("count = 5", "count = 0"), r"population\[0\].count = 0 is not allowed: >= 1"),
        (BASE.replace("count = 5", 'count = "5"'), r"population\[0\].count must be int"),
        (BASE.replace('kind = "noise"', 'kind = "whale"'), "kind = 'whale' is not allowed"),
        (BASE.split("[[population]]")[0], "population must list at least one"),
        (BASE.replace("previous_close = 100_000", "previous_close = -5"), "previous_close"),
        (BASE + "[board.overrides.classes.equity]\ntick = -100\n", "board.overrides"),
        (
            BASE + "[board.overrides.classes.equity.price_limits]\nlimit = 150_000_000\n",
            "board.overrides",
        ),
        ('extends = "nowhere"\n' + BASE, "extends = 'nowhere': no such scenario"),
        (BASE.replace('preset = "star"', 'preset = "moon"'), "board.preset = 'moon'"),
        ("days = 1.5\n" + BASE, "days must be int"),
        ("[board\n", "not TOML"),
    ],
)
def test_bad_scenarios_are_refused_naming_the_key(text, message):
    with pytest.raises(ScenarioError, match=message) as error:
        load_scenario(text)
    assert str(error.value).startswith("<text>: ")
    assert "\n" not in str(error.value)


def test_docs_scenarios_md_lists_every_key():
    from pathlib import Path

    from simulation.scenario import COMMON, POPULATION, SPEC

    text = (Path(__file__).resolve().parents[2] / "docs" / "scenarios.md").read_text()
    keys = {k for spec in (*SPEC.values(), COMMON, *POPULATION.values()) for k in spec}
    assert not {k for k in keys if f"| `{k}` |" not in text}
