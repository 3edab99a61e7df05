"""The synthetic flows: the same for the same seed, valid, and shaped as their regime says."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from matching_engine.book import NumbaEngine
from matching_engine.dtypes import CommandKind, EventKind, TimeInForce
from matching_engine.flows import (
    REGIMES,
    START_PRICE,
    Flow,
    auction_flow,
    regime_flow,
    repeat,
    sweep_flow,
)

GENERATORS = {
    **{
        name: (lambda seed, r=regime: regime_flow(r, 20_000, seed))
        for name, regime in REGIMES.items()
    },
    "sweep": lambda seed: sweep_flow(20_000, seed, levels=2_000, orders=1_000),
    "auction": lambda seed: auction_flow(20_000, seed),
}


def run(flow: Flow) -> tuple[NumbaEngine, np.ndarray]:
    """Return a fresh engine after the seed and the stream, and the stream's events."""
    engine = NumbaEngine([flow.spec])
    engine.process(flow.seed)
    return engine, engine.process(flow.commands)


def same(a: Flow, b: Flow) -> bool:
    return a.spec == b.spec and all(np.array_equal(x, y) for x, y in zip(a[1:], b[1:], strict=True))


@pytest.mark.parametrize("name", GENERATORS)
def test_flow_is_determined_by_its_seed(name):
    make = GENERATORS[name]
    assert same(make(7), make(7))
    assert not same(make(7), make(8))


@pytest.mark.parametrize("name", GENERATORS)
def test_flow_is_accepted_in_full(name):
    flow = GENERATORS[name](1)
    _, events = run(flow)
    assert not np.any(events["kind"] == EventKind.REJECTED)
    ids = np.concatenate([flow.seed, flow.commands])
    ids = ids["order_id"][ids["kind"] == CommandKind.NEW]
    assert np.all(np.diff(ids) > 0)


@functools.cache
def day(name: str) -> tuple[Flow, np.ndarray]:
    """Return a regime's flow of 100,000 commands and its events (shared by the tests)."""
    flow = regime_flow(REGIMES[name], 100_000, seed=3)
    return flow, run(flow)[1]


MOVING = [name for name in REGIMES if name != "static deep book"]


@pytest.mark.parametrize("name", MOVING)
def test_regime_mixes_cancels_iocs_replaces_and_trades(name):
    flow, events = day(name)
    commands = flow.commands
    kind = commands["kind"]
    new = kind == CommandKind.NEW
    assert 0.2 < np.count_nonzero(kind == CommandKind.CANCEL) / len(commands) < 0.5
    assert 0.02 < np.count_nonzero(new & (commands["tif"] == TimeInForce.IOC)) / len(commands) < 0.1
    assert 0.02 < np.count_nonzero(kind == CommandKind.REPLACE) / len(commands) < 0.1
    assert np.count_nonzero(events["kind"] == EventKind.TRADE) > 0.05 * len(commands)


def test_most_orders_of_a_normal_day_are_cancelled():
    # the more the mid moves in an order's lifetime, the more orders fill before their cancel:
    # the same regime over more messages moves slower per message
    commands = regime_flow(REGIMES["normal day"], 400_000, seed=3).commands
    kind = commands["kind"]
    passive = np.count_nonzero((kind == CommandKind.NEW) & (commands["tif"] == TimeInForce.DAY))
    assert np.count_nonzero(kind == CommandKind.CANCEL) > 0.7 * passive


@pytest.mark.parametrize(
    ("name", "end", "low"),
    [
        ("normal day", 1.01, 0.97),
        ("swing day +25%", 1.25, 0.97),
        ("swing day -40%", 0.60, 0.58),
        ("flash crash -60%", 0.70, 0.40),
    ],
)
def test_trades_follow_the_regime_path(name, end, low):
    _, events = day(name)
    prices = events["price"][events["kind"] == EventKind.TRADE] / START_PRICE
    first, *_, last = np.array_split(prices, 20)
    assert np.median(first) == pytest.approx(1, abs=0.03)
    assert np.median(last) == pytest.approx(end, abs=0.04)
    assert np.percentile(prices, 0.1) == pytest.approx(low, abs=0.04)


def test_static_deep_book_stays_put_and_deep():
    engine, events = run(regime_flow(REGIMES["static deep book"], 20_000, seed=3))
    prices = events["price"][events["kind"] == EventKind.TRADE] / START_PRICE
    assert np.all(np.abs(prices - 1) < 0.01)
    assert engine.resting() > 100_000


def test_each_sweep_takes_its_side_across_the_levels():
    flow = sweep_flow(20_000, seed=4, levels=2_000, orders=1_000)
    engine, events = run(flow)
    trades = events[events["kind"] == EventKind.TRADE]
    sweeps = np.unique(trades["command"])
    assert len(sweeps) == len(flow.commands) // 1_001
    for command in sweeps:
        assert len(np.unique(trades["price"][trades["command"] == command])) > 600
    assert engine.resting() == 0


def test_auction_uncross_fills_about_half_the_orders():
    flow = auction_flow(20_000, seed=5)
    engine, events = run(flow)
    (uncrossed,) = events[events["kind"] == EventKind.UNCROSSED]
    assert abs(uncrossed["price"] - START_PRICE) <= START_PRICE * 0.005
    assert 0.3 < 1 - engine.resting() / 20_000 < 0.7
    quote = engine.best(0)
    assert quote.bid_price < quote.ask_price


def test_repeat_replays_the_day_with_fresh_ids():
    day = regime_flow(REGIMES["normal day"], 5_000, seed=6)
    days = repeat(day, 3)
    _, events = run(days)
    per_day = len(day.seed) + len(day.commands) + 1
    shift = int(day.commands["order_id"].max())
    first = events[events["command"] < per_day]
    for d in (1, 2):
        later = events[(events["command"] >= d * per_day) & (events["command"] < (d + 1) * per_day)]
        assert np.array_equal(later["command"] - d * per_day, first["command"])
        for field in ("order_id", "contra_order_id"):
            ids = first[field]
            assert np.array_equal(later[field], np.where(ids > 0, ids + d * shift, ids))
    assert np.any(first["kind"] == EventKind.EXPIRED)
