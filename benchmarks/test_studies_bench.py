"""Studies benchmarks: the liquidity metrics over 1,000,000 trades (target: under 1 s)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "studies"))
from synthetic_records import synthetic_records

from studies.metrics import run_metrics


@pytest.mark.benchmark
def test_metrics_over_a_million_trades(benchmark):
    records = synthetic_records(7, days=10, trades_per_day=100_000)
    assert len(records.trades) == 1_000_000
    out = benchmark.pedantic(run_metrics, args=(records,), rounds=5, warmup_rounds=1)
    assert out["SYN"]["trades"] == 1_000_000
    assert benchmark.stats.stats.median < 1.0
