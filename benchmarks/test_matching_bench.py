"""pytest-benchmark timings of the `techboard bench matching` scenarios, one engine at a time.

Run: python -m pytest -m benchmark --benchmark-enable benchmarks/
Each round processes the timed batch on a fresh engine that already holds the seed (see
techboard.commands.bench.Engine). The group "<scenario>" compares numba reusing its event buffer
with numba allocating a fresh one; "<scenario>: first N" holds both engines on the same prefix,
so its relative column is the ratio.
"""

from __future__ import annotations

import functools

import pytest

from techboard.commands.bench import (
    FULL,
    LOBSTER_DIR,
    NUMBA,
    NUMBA_FRESH,
    REFERENCE,
    Engine,
    Scenario,
    scenarios,
    warm_up,
)

BUILDERS = dict(scenarios(FULL, LOBSTER_DIR))


@functools.cache
def scenario(name: str) -> Scenario:
    """Return the named scenario, built once per session."""
    return BUILDERS[name]()


def time_batch(benchmark, scenario: Scenario, engine: Engine, rounds: int) -> None:
    """Time the scenario's batch on fresh engines of one kind and record its rate."""
    flow = scenario.flow
    warm_up(flow)

    def fresh():
        return (engine.prepare(flow),), {}

    benchmark.pedantic(lambda book: engine.process(book, flow.commands), setup=fresh, rounds=rounds)
    benchmark.extra_info["unit"] = scenario.unit
    benchmark.extra_info["count"] = scenario.size
    benchmark.extra_info["per_s"] = scenario.size / benchmark.stats.stats.min


@pytest.mark.benchmark
@pytest.mark.parametrize("engine", [NUMBA, NUMBA_FRESH], ids=["reuse", "fresh"])
@pytest.mark.parametrize("name", BUILDERS)
def test_numba_full(benchmark, name, engine):
    whole = scenario(name)
    benchmark.group = whole.name
    time_batch(benchmark, whole, engine, rounds=FULL.repeats)


@pytest.mark.benchmark
@pytest.mark.parametrize("engine", [NUMBA, REFERENCE], ids=["numba", "reference"])
@pytest.mark.parametrize("name", BUILDERS)
def test_prefix(benchmark, name, engine):
    prefix = scenario(name).head(FULL.reference)
    benchmark.group = f"{prefix.name}: first {prefix.size:,} {prefix.unit}"
    time_batch(benchmark, prefix, engine, rounds=FULL.repeats if engine is NUMBA else 1)
