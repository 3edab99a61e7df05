"""NumbaEngine.quote: level 1 and the depth within p% of the mid in one call, checked against
the book's levels on random books (the condition written exactly, in integers)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matching_engine import commands
from matching_engine.api import BookSpec
from matching_engine.book import NumbaEngine
from matching_engine.dtypes import Side

SPEC = BookSpec(lo=50_000, hi=200_000, tick=100)
PERCENTS = np.array([1, 2, 5], np.int64)


def expected(engine: NumbaEngine) -> list[int]:
    bids = engine.depth(0, Side.BUY, 10_000)
    asks = engine.depth(0, Side.SELL, 10_000)
    top = [bids[0].price if bids else 0, bids[0].quantity if bids else 0,
           asks[0].price if asks else 0, asks[0].quantity if asks else 0]  # fmt: skip
    if not (bids and asks):
        return top + [0] * (2 * len(PERCENTS))
    mid2 = bids[0].price + asks[0].price
    for p in PERCENTS.tolist():  # |2 price - mid2| <= p% of mid2
        top.append(sum(x.quantity for x in bids if 100 * (mid2 - 2 * x.price) <= p * mid2))
        top.append(sum(x.quantity for x in asks if 100 * (2 * x.price - mid2) <= p * mid2))
    return top


@settings(max_examples=150, deadline=None)
@given(
    bids=st.lists(st.tuples(st.integers(0, 80), st.integers(1, 900)), max_size=30),
    asks=st.lists(st.tuples(st.integers(0, 80), st.integers(1, 900)), max_size=30),
    gap=st.integers(1, 40),
)
def test_quote_is_level_1_and_the_depth_within_each_percent_of_the_mid(bids, asks, gap):
    engine = NumbaEngine([SPEC])
    centre = 100_000
    rows = [commands.new(i + 1, Side.BUY, centre - (off + 1) * 100, qty)
            for i, (off, qty) in enumerate(bids)]  # fmt: skip
    rows += [commands.new(1_000 + i, Side.SELL, centre + (off + gap) * 100, qty)
             for i, (off, qty) in enumerate(asks)]  # fmt: skip
    if rows:
        engine.process(commands.batch(*rows))
    assert engine.quote(0, PERCENTS).tolist() == expected(engine)
    assert engine.quote(0).tolist() == expected(engine)[:4]
