"""`techboard bench exchange --quick --json`: one row per board with the keys the issue names."""

from __future__ import annotations

import json

from techboard.cli import main
from techboard.commands import bench


def test_bench_exchange_quick_json(capsys, monkeypatch):
    monkeypatch.setattr(bench, "EXCHANGE_QUICK", bench.ExchangeSizes(3_000, 1, 500))
    assert main(["bench", "exchange", "--quick", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["board"] for r in rows] == ["star", "techboard-call"]
    for row in rows:
        assert {
            "scenario",
            "commands",
            "commands_per_s",
            "core_commands_per_s",
            "journal_records_per_s",
        } <= row.keys()
        assert row["commands"] == 3_000 and row["trades"] > 0
