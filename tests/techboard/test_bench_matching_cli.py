"""`techboard bench matching --quick --json`: every scenario, both engines, the issue's keys."""

from __future__ import annotations

import json

from techboard.cli import main


def test_bench_matching_quick_json(capsys):
    assert main(["bench", "matching", "--quick", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 8
    assert sum(row["worst_regime"] for row in rows) == 1
    for row in rows:
        assert {
            "scenario",
            "commands",
            "numba_commands_per_s",
            "reference_commands_per_s",
            "ratio",
            "machine",
        } <= row.keys()
        assert row["events_agree"]
        assert row["numba_commands_per_s"] > 0 and row["ratio"] > 0
        assert row["bytes_per_order"] <= 64
