"""Agents on their own: what one wake returns for a given view of the market."""

from __future__ import annotations

import numpy as np
import pytest

from matching_engine.dtypes import Side
from simulation.agent import NEVER, InstrumentInfo, Session, Span, Top
from simulation.agents import InformedTraders

S = 1_000_000_000
INFO = (InstrumentInfo(0, "AAA", "equity", "continuous", 100, 100, 100_000),)
SESSION = Session(1, 0, (Span("continuous", 10 * S, 3_600 * S, ("limit",)),))
PARAMS = {"wake_s": 60.0, "lead_s": 300.0, "threshold_bp": 20.0, "size": 250}


class Ahead:
    """A fundamental that is `before` until 200 s and `after` from then on."""

    def __init__(self, before: float, after: float) -> None:
        self.before, self.after = before, after

    def at(self, ns: int) -> float:
        return self.before if ns < 200 * S else self.after


class Market:
    def __init__(self, top: Top) -> None:
        self._top = top

    def top(self, instrument: int) -> Top:
        return self._top


def informed(after: float) -> InformedTraders:
    agent = InformedTraders(np.arange(3), 1_000, 0, PARAMS, [Ahead(100_000.0, after)])
    agent.start(INFO)
    agent.start_day(SESSION)
    return agent


TOP = Top(99_900, 500, 100_100, 500, 100_000, 0, 0)


@pytest.mark.parametrize(("after", "side", "price"), [(101_000.0, Side.BUY, 100_100),
                                                       (99_000.0, Side.SELL, 99_900)])  # fmt: skip
def test_informed_traders_take_the_touch_toward_the_value_to_come(after, side, price):
    agent = informed(after)
    now = agent.next_wake()
    assert SESSION.open <= now < NEVER
    rows = agent.wake(max(now, 10 * S), Market(TOP))
    assert len(rows) >= 1
    assert (rows["side"] == side).all() and (rows["price"] == price).all()
    assert (rows["quantity"] == 200).all()  # 250 shares rounded down to whole lots of 100
    assert agent.next_wake() > now


def test_informed_traders_stay_out_when_the_gap_is_within_the_threshold():
    agent = informed(100_100.0)  # 10 bp above the mid, threshold 20 bp
    assert len(agent.wake(agent.next_wake(), Market(TOP))) == 0
