"""`techboard bench simulation --json`: the keys the issue names, a run's real load."""

from __future__ import annotations

import json

from simulation.run import WARM_UP
from techboard.cli import main

KEYS = {"scenario", "wall_s", "events", "orders", "cancels", "fills", "peak_mib"}


def test_bench_simulation_prints_one_object_per_scenario(tmp_path, capsys):
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(WARM_UP.replace('"warm-up"', '"tiny"'))
    assert main(["bench", "simulation", "--scenario", str(scenario), "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert set(result) == KEYS
    assert result["scenario"] == "tiny"
    assert result["orders"] > 0 and result["events"] >= result["orders"]
    assert result["wall_s"] > 0 and result["peak_mib"] > 50
