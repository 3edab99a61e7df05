"""pytest-benchmark timings of `techboard bench exchange`: the synthetic day through the API.

Run: python -m pytest -m benchmark --benchmark-enable benchmarks/test_exchange_bench.py
Each round submits the whole day as one batch to a fresh Exchange whose buffers are sized and
touched in the (untimed) setup; the group "<board> day" compares the API with the bare core on
the core rows the venue sent.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from exchange.venue.flows import SyntheticDay, open_exchange, synthetic_day
from matching_engine.book import NumbaEngine
from matching_engine.dtypes import COMMAND_DTYPE
from techboard.commands.bench import EXCHANGE_BOARDS, EXCHANGE_FULL, core_rows


@functools.cache
def day(board: str) -> SyntheticDay:
    """Return the board's synthetic day, built once per session."""
    return synthetic_day(board, EXCHANGE_FULL.commands)


@pytest.mark.benchmark
@pytest.mark.parametrize("board", EXCHANGE_BOARDS)
def test_exchange_api(benchmark, board):
    trading = day(board)
    open_exchange(trading).submit(trading.batch[:1_000])  # compile or load the kernels

    def fresh():
        exchange = open_exchange(trading)
        exchange.reserve(len(trading.batch))
        return (exchange,), {}

    benchmark.group = f"{board} day"
    benchmark.pedantic(
        lambda exchange: exchange.submit(trading.batch, reuse=True),
        setup=fresh,
        rounds=EXCHANGE_FULL.repeats,
    )
    benchmark.extra_info["commands_per_s"] = len(trading.batch) / benchmark.stats.stats.min


@pytest.mark.benchmark
@pytest.mark.parametrize("board", EXCHANGE_BOARDS)
def test_bare_core(benchmark, board):
    specs, rows, _ = core_rows(day(board))

    def fresh():
        engine = NumbaEngine(specs, 1 << 14)
        engine.process(np.zeros(len(rows), COMMAND_DTYPE), reuse=True)
        return (engine,), {}

    benchmark.group = f"{board} day"
    benchmark.pedantic(
        lambda engine: engine.process(rows, reuse=True), setup=fresh, rounds=EXCHANGE_FULL.repeats
    )
    benchmark.extra_info["core_commands_per_s"] = len(rows) / benchmark.stats.stats.min
