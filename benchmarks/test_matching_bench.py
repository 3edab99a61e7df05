"""pytest-benchmark timings of the `techboard bench matching` scenarios, one engine at a time.

Run: python -m pytest -m benchmark --benchmark-enable benchmarks/
Each round processes the timed batch on a fresh engine that already holds the seed. The group
"<scenario>: first N" holds both engines on the same prefix, so its relative column is the ratio.
"""

from __future__ import annotations

import functools

import pytest

from matching_engine.api import MatchingEngine
from matching_engine.book import NumbaEngine
from matching_engine.reference_book import ReferenceEngine
from techboard.commands.bench import FULL, LOBSTER_DIR, Scenario, scenarios, warm_up

BUILDERS = dict(scenarios(FULL, LOBSTER_DIR))
ENGINES: dict[str, type[MatchingEngine]] = {"numba": NumbaEngine, "reference": ReferenceEngine}


@functools.cache
def scenario(name: str) -> Scenario:
    """Return the named scenario, built once per session."""
    return BUILDERS[name]()


def time_batch(benchmark, scenario: Scenario, engine: str, rounds: int) -> None:
    """Time the scenario's batch on fresh engines of one kind and record its rate."""
    flow = scenario.flow
    if engine == "numba":
        warm_up(flow)

    def fresh():
        book = ENGINES[engine]([flow.spec])
        book.process(flow.seed)
        return (book,), {}

    benchmark.pedantic(lambda book: book.process(flow.commands), setup=fresh, rounds=rounds)
    benchmark.extra_info["unit"] = scenario.unit
    benchmark.extra_info["count"] = scenario.size
    benchmark.extra_info["per_s"] = scenario.size / benchmark.stats.stats.min


@pytest.mark.benchmark
@pytest.mark.parametrize("name", BUILDERS)
def test_numba_full(benchmark, name):
    whole = scenario(name)
    benchmark.group = whole.name
    time_batch(benchmark, whole, "numba", rounds=FULL.repeats)


@pytest.mark.benchmark
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", BUILDERS)
def test_prefix(benchmark, name, engine):
    prefix = scenario(name).head(FULL.reference)
    benchmark.group = f"{prefix.name}: first {prefix.size:,} {prefix.unit}"
    time_batch(benchmark, prefix, engine, rounds=FULL.repeats if engine == "numba" else 1)
