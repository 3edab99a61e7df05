"""Comparison over seeds: bootstrap CIs, differences against the baseline, flags, elasticity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from studies.compare import compare, format_table, spread_flags, table, turnover_elasticity
from studies.runner import RunOutcome


def outcome(scenario: str, seed: int, **metrics: float) -> RunOutcome:
    return RunOutcome(scenario, seed, metrics={"X": metrics})


def test_bootstrap_ci_covers_the_mean_and_shrinks_with_seeds():
    rng = np.random.default_rng(5)
    few = [outcome("a", k, v=float(x)) for k, x in enumerate(rng.normal(10, 1, 8))]
    many = [outcome("a", k, v=float(x)) for k, x in enumerate(rng.normal(10, 1, 200))]
    (r8,) = compare(few)
    (r200,) = compare(many)
    assert r8.low < r8.mean < r8.high
    assert r200.low < 10 < r200.high
    assert r200.high - r200.low < (r8.high - r8.low) / 2
    # 95% percentile CI of a mean of N(10, 1) over 200 draws: about +-1.96 / sqrt(200)
    assert r200.high - r200.low == pytest.approx(2 * 1.96 / math.sqrt(200), rel=0.25)


def test_difference_against_the_baseline():
    runs = [outcome("base", k, v=1.0 + 0.01 * k) for k in range(8)]
    runs += [outcome("new", k, v=3.0 + 0.01 * k) for k in range(8)]
    rows = {r.scenario: r for r in compare(runs, baseline="base")}
    assert math.isnan(rows["base"].diff)
    assert rows["new"].diff == pytest.approx(2.0)
    assert rows["new"].diff_low <= 2.0 <= rows["new"].diff_high
    assert rows["new"].diff_low > 1.9


def test_failed_and_undefined_values_are_left_out():
    runs = [outcome("a", 0, v=1.0), outcome("a", 1, v=math.nan), RunOutcome("a", 2, error="E")]
    (row,) = compare(runs)
    assert (row.n, row.mean, row.low, row.high) == (1, 1.0, 1.0, 1.0)


def test_spread_flag_and_turnover_elasticity():
    runs = [
        outcome("base", k, quoted_spread_tw_bp=800.0, turnover_cny=100.0, trading_cost_bp=20.0)
        for k in range(3)
    ]
    runs += [
        outcome("cut", k, quoted_spread_tw_bp=300.0, turnover_cny=200.0, trading_cost_bp=10.0)
        for k in range(3)
    ]
    rows = compare(runs, baseline="base")
    assert spread_flags(rows) == [("base", "X", 800.0)]
    # turnover doubles when the cost halves: elasticity ln 2 / ln 0.5 = -1
    assert turnover_elasticity(rows, "cut", "base", "X") == pytest.approx(-1.0)
    text = format_table(table(rows, ("quoted_spread_tw_bp",)))
    assert "cut" in text and "-500" in text
