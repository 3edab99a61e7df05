"""The matching core's public access for the venue kernel: arrays(), run_batch, grow()."""

from __future__ import annotations

import numpy as np

from matching_engine import book as core
from matching_engine.api import BookSpec
from matching_engine.book import NumbaEngine
from matching_engine.commands import batch, new
from matching_engine.dtypes import EVENT_DTYPE, Phase, Side, TieBreak

SPEC = BookSpec(100, 200_000, 100, TieBreak.SSE, Phase.CONTINUOUS)


def orders(count: int) -> np.ndarray:
    rows = [new(i + 1, Side.BUY, 100_000 - 100 * (i % 50), 200, owner=i % 7) for i in range(count)]
    rows.append(new(count + 1, Side.SELL, 90_000, 1_000, owner=9))
    return batch(*rows)


def drive(engine: NumbaEngine, commands: np.ndarray) -> np.ndarray:
    """Run commands through run_batch on engine.arrays(), as exchange.kernel does."""
    events = np.zeros(4 * len(commands) + 64, EVENT_DTYPE)
    i = k = 0
    while i < len(commands):
        status, i, k, _ = core.run_batch(commands, i, events, k, *engine.arrays())
        if status == core.NEED_SLOTS:
            engine.grow()
    return events[:k]


def test_run_batch_on_the_arrays_matches_process_and_grows_on_demand():
    commands = orders(40)
    direct = NumbaEngine([SPEC], capacity=16)
    before = direct.arrays().o64
    events = drive(direct, commands)
    assert direct.capacity == 64 and direct.arrays().o64 is not before  # grown twice
    reference = NumbaEngine([SPEC], capacity=16)
    assert events.tobytes() == reference.process(commands).tobytes()
    assert direct.state_hash() == reference.state_hash()


def test_the_arrays_are_the_engine_state_in_run_batch_order():
    engine = NumbaEngine([SPEC])
    arrays = engine.arrays()
    assert arrays._fields == ("bk", "lv", "bits", "o64", "o32", "keys", "vals", "st")
    assert arrays.bk.shape == (1, core.BK_COLUMNS) and arrays.st[core.LIVE] == 0
