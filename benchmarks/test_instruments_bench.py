"""Speed of a convertible valuation: lattice and least-squares Monte Carlo (docs/instruments.md).

Run: python -m pytest -m benchmark --benchmark-enable benchmarks/test_instruments_bench.py
"""

from __future__ import annotations

import datetime

import pytest

from instruments.convertible_lattice import value_lattice
from instruments.convertible_lsmc import value_lsmc
from instruments.terms import ConvertibleTerms, example_path, load_one
from instruments.valuation import Market

pytestmark = pytest.mark.benchmark

TERMS = load_one(example_path("convertible.toml"), ConvertibleTerms)  # six years, all clauses
MARKET = Market(10.0, 0.3, 0.02, 0.03, datetime.date(2025, 3, 17))


@pytest.mark.parametrize("steps", [500, 1000, 2000])
def test_lattice(benchmark, steps):
    value_lattice(TERMS, MARKET, steps)  # compile (or load the numba cache) outside the timing
    benchmark(value_lattice, TERMS, MARKET, steps)


@pytest.mark.parametrize("paths", [2048, 8192])
def test_lsmc(benchmark, paths):
    value_lsmc(TERMS, MARKET, paths=512)
    benchmark.pedantic(
        value_lsmc, (TERMS, MARKET), {"paths": paths, "revision_policy": "put_period"}, rounds=3
    )
