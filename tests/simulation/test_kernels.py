"""The populations' numba kernels (simulation.kernels) on hand-made states: what each member
due does, and the ABIDES formulas they carry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from exchange.dtypes import ORDER_DTYPE, VENUE_EVENT_DTYPE, OrderCommand
from matching_engine.dtypes import EventKind, Side
from simulation import kernels

S = 1_000_000_000
OPEN, BREAK, RESUME, CLOSE = 0, 100 * S, 200 * S, 300 * S
NEVER = kernels.NEVER
STARTS = np.array([OPEN, RESUME, NEVER], np.int64)  # limit spans' starts, NEVER after the last
ENDS = np.array([BREAK, CLOSE], np.int64)
TICK, LOT, BASE = 100, 100, 40


def value_call(members, u, *, live, bid=990_000, ask=1_010_000, value=2_000_000.0,
               aggressive=1.0, min_edge=0.0, now=10 * S, kappa=1e-15, sigma_n=1e-6):  # fmt: skip
    n = len(live)
    wakes = np.where(np.isin(np.arange(n), members), now, now + 5)  # the others wake later
    state = {
        "wakes": wakes.astype(np.int64), "live": np.array(live, np.int64),
        "next_id": np.full(n, 50, np.int64), "r_t": np.full(n, 1_000_000.0),
        "sigma_t": np.zeros(n), "prev": np.zeros(n, np.int64),
    }  # fmt: skip
    params = np.zeros(kernels.VALUE_PARAMS)
    params[:] = [60.0 * S, sigma_n, 1e6, kappa, aggressive, 0.5, min_edge, 200_000]  # fees 0.2%
    out = np.zeros(2 * len(members), ORDER_DTYPE)
    path = np.full(400, value)
    pos = np.zeros(1, np.int64)
    count, _ = kernels.value_wake(
        now, u.ravel(), pos, out, params, state["wakes"], state["live"],
        state["next_id"], state["r_t"], state["sigma_t"], state["prev"], path, OPEN, S,
        1_000_000.0, bid, ask, 0, 1_000_000, TICK, LOT, CLOSE, STARTS, ENDS, BASE,
    )  # fmt: skip
    assert pos[0] == u.size  # every uniform taken
    return out[:count], state


def test_value_traders_cancel_their_live_order_then_each_posts_one_new_one():
    u = np.full((2, kernels.VALUE_UNIFORMS), 0.3)
    rows, state = value_call([0, 2], u, live=[5, 9, 7])
    assert rows["kind"].tolist() == [OrderCommand.CANCEL] * 2 + [OrderCommand.NEW] * 2
    assert rows["participant"].tolist() == [BASE, BASE + 2, BASE, BASE + 2]
    assert rows["client_order_id"].tolist() == [5, 7, 50, 50]
    assert state["live"].tolist() == [50, 9, 50]  # member 1 was not due
    assert state["next_id"].tolist() == [51, 50, 51]
    new = rows[2:]
    assert (new["price"] % TICK == 0).all() and (new["quantity"] % LOT == 0).all()
    assert (state["wakes"][[0, 2]] > 10 * S).all() and state["wakes"][1] == 10 * S + 5
    assert (state["prev"][[0, 2]] == 10 * S).all()


def test_a_value_trader_above_the_book_buys_at_the_ask_when_aggressive_else_inside():
    u = np.full((1, kernels.VALUE_UNIFORMS), 0.5)
    rows, _ = value_call([0], u, live=[0], aggressive=1.0)
    assert (rows["side"][0], rows["price"][0]) == (Side.BUY, 1_010_000)
    rows, _ = value_call([0], u, live=[0], aggressive=0.0)  # adjust: 0.5 x 0.5 x spread inside
    assert (rows["side"][0], rows["price"][0]) == (Side.BUY, 1_010_000 - 5_000)
    rows, _ = value_call([0], u, live=[0], value=500_000.0)
    assert (rows["side"][0], rows["price"][0]) == (Side.SELL, 990_000)


def test_the_value_estimate_is_abides_bayesian_update():
    u = np.full((1, kernels.VALUE_UNIFORMS), 0.3)
    now, kappa, sigma_n, sigma_s, r_bar, obs_mean = 10 * S, 1e-12, 4e6, 1e6, 1_000_000.0, 2e6
    _, state = value_call([0], u, live=[0], now=now, kappa=kappa, sigma_n=sigma_n)
    z = math.sqrt(-2 * math.log1p(-0.3)) * math.cos(2 * math.pi * 0.3)
    obs = obs_mean + math.sqrt(sigma_n) * z
    keep = (1 - kappa) ** now
    r_prime = (1 - keep) * r_bar + keep * 1_000_000.0
    s_prime = (1 - (1 - kappa) ** (2 * now)) / (1 - (1 - kappa) ** 2) * sigma_s  # sigma_t was 0
    assert state["r_t"][0] == pytest.approx(
        (sigma_n * r_prime + s_prime * obs) / (sigma_n + s_prime)
    )
    assert state["sigma_t"][0] == pytest.approx(sigma_n * s_prime / (sigma_n + s_prime))


def test_fees_above_the_edge_stop_a_value_trader_from_posting():
    u = np.full((1, kernels.VALUE_UNIFORMS), 0.5)
    rows, state = value_call([0], u, live=[3], value=1_001_000.0, min_edge=1.0)
    assert rows["kind"].tolist() == [OrderCommand.CANCEL]  # the gap (0.1%) < one fee rate (0.2%)
    assert state["live"][0] == 0


def test_wakes_move_out_of_the_break_and_stop_at_the_close():
    u = np.zeros((1, kernels.VALUE_UNIFORMS))
    for now, draw, wake in ((10 * S, 0.0, 10 * S + 1), (99 * S, 1 - math.exp(-2 / 60), RESUME),
                            (299 * S, 1 - math.exp(-2 / 60), NEVER)):  # fmt: skip
        u[0, 0] = draw  # a wait of 1 ns, then of 60 s x 2/60 = 2 s
        _, state = value_call([0], u, live=[0], now=now)
        assert state["wakes"][0] == wake


def test_order_sizes_follow_abides_mixture():
    rng = np.random.default_rng(1)
    draws = (rng.random(kernels.SIZE_UNIFORMS) for _ in range(20_000))
    sizes = np.array([kernels.order_size(u, 1) for u in draws])
    lots = np.isin(sizes, kernels.SIZE_LOTS)
    assert lots.mean() == pytest.approx(0.8, abs=0.02)  # the lognormal part: 20%
    assert (sizes[lots] == 100).mean() == pytest.approx(0.7 / 0.8002, abs=0.02)
    assert np.median(np.log(sizes[~lots])) == pytest.approx(2.9, abs=0.1)  # lognormal(2.9, 1.2)
    assert kernels.order_size(np.array([0.5, 0, 0, 0.99999]), 300) == 900  # 1,000 in lots of 300


def test_momentum_traders_follow_the_crossover_once_the_window_is_full():
    short, long, n = 2, 4, 1
    wakes, seen = np.zeros(n, np.int64), np.zeros(n, np.int64)  # due at 10 s each call
    history, next_id = np.zeros((n, long)), np.ones(n, np.int64)

    def wake(bid):
        out = np.zeros(1, ORDER_DTYPE)
        u = np.full(kernels.MOMENTUM_UNIFORMS, 0.5)
        wakes[0] = 10 * S
        pos = np.zeros(1, np.int64)
        count, _ = kernels.momentum_wake(
            10 * S, u, pos, out, 30.0 * S, short, 1, 10, wakes, history, seen, next_id, bid,
            bid + 200, LOT, CLOSE, STARTS, ENDS, BASE,
        )  # fmt: skip
        return out[:count]

    assert [len(wake(b)) for b in (100_000, 100_100, 100_200)] == [0, 0, 0]  # not full yet
    rows = wake(100_300)  # rising: the short average is above the long one
    assert (rows["side"][0], rows["price"][0], rows["quantity"][0]) == (Side.BUY, 100_500, 100)
    for b in (100_000, 99_000):
        rows = wake(b)
    assert (rows["side"][0], rows["price"][0]) == (Side.SELL, 99_000)
    assert next_id[0] == 4 and seen[0] == 6
    assert len(wake(0)) == 0  # no bid: no mid, nothing seen
    assert seen[0] == 6


EVENT_FIELDS = ("kind", "side", "owner", "client_order_id", "leaves", "quantity", "contra_owner",
                "contra_client_order_id", "contra_leaves")  # fmt: skip


def venue_events(*rows: tuple) -> np.ndarray:
    """Return VENUE_EVENT_DTYPE rows with the EVENT_FIELDS given, the rest 0."""
    events = np.zeros(len(rows), VENUE_EVENT_DTYPE)
    for event, row in zip(events, rows, strict=True):
        for name, value in zip(EVENT_FIELDS, row, strict=True):
            event[name] = value
    return events


def test_orders_are_forgotten_when_done_and_kept_while_live():
    live = np.array([11, 12, 13, 14, 15], np.int64)
    B = Side.BUY
    events = venue_events(  # kind, side, owner, cid, leaves, qty, contra owner, cid, leaves
        (EventKind.ACCEPTED, B, 10, 11, 100, 0, 0, 0, 0),
        (EventKind.TRADE, B, 11, 12, 50, 10, 12, 13, 0),  # 12 partly filled; the contra 13 filled
        (EventKind.CANCELLED, B, 13, 14, 0, 0, 0, 0, 0),
        (EventKind.TRADE, B, 14, 99, 0, 10, 0, 0, 0),  # an older order of member 4
        (EventKind.REJECTED, B, 99, 1, 0, 0, 0, 0, 0),  # not a member
        (EventKind.TRADE, B, 2, 5, 0, 10, 10, 11, 20),  # member 0 is the contra, 20 left
    )
    kernels.forget_done(events, live, 10)
    assert live.tolist() == [11, 12, 0, 0, 15]


def test_uniforms_are_the_generators_stream_in_order_across_blocks():
    uniforms = kernels.Uniforms(np.random.default_rng(3))
    uniforms.BLOCK = 8
    taken = []
    for count in (5, 3, 7, 8, 1, 20):
        uniforms.ensure(count)
        start = int(uniforms.pos[0])
        taken.extend(uniforms.values[start : start + count].tolist())
        uniforms.pos[0] += count
    assert taken == np.random.default_rng(3).random(len(taken)).tolist()


def test_market_makers_follow_their_fills_and_forget_quotes_that_are_done():
    inventory = np.zeros(2, np.int64)
    live = np.array([[21, 22, 23], [31, 32, 0]], np.int64)
    events = venue_events(  # kind, side (the owner's), owner, cid, leaves, qty, contra ...
        (EventKind.TRADE, Side.BUY, 99, 7, 0, 300, 10, 21, 0),  # a buyer takes quote 21
        (EventKind.TRADE, Side.SELL, 99, 8, 0, 200, 11, 31, 100),  # a seller hits 31, 100 left
        (EventKind.CANCELLED, Side.BUY, 11, 32, 0, 0, 0, 0, 0),
        (EventKind.ACCEPTED, Side.SELL, 10, 23, 500, 0, 0, 0, 0),
    )
    kernels.follow_quotes(events, inventory, live, 10)
    assert inventory.tolist() == [-300, 200]
    assert live.tolist() == [[0, 22, 23], [31, 0, 0]]


def test_a_market_maker_cancels_its_ladder_and_quotes_a_skewed_one_sized_by_volume():
    levels, n = 3, 1
    live = np.array([[7, 8, 0, 0, 0, 0]], np.int64)
    spread, seen = np.zeros(n), np.full(n, 1_000, np.int64)
    inventory, next_id = np.full(n, 2_000, np.int64), np.full(n, 20, np.int64)
    params = np.zeros(kernels.MAKER_PARAMS)
    params[:] = [60.0 * S, 0.75, 0, 2.0, 1.0, 0.1, 1]  # (kernels.M_*): skew 1 tick per 1,000
    out = np.zeros(2 * 2 * levels, ORDER_DTYPE)
    wakes = np.full(n, 10 * S, np.int64)
    count, _ = kernels.market_maker_wake(
        10 * S, np.full(n, 0.5), np.zeros(1, np.int64), out, params, wakes, live, spread, seen,
        inventory, next_id, 100_000, 100_800, 0, 7_000, 100_000, TICK, LOT, CLOSE, STARTS, ENDS,
        BASE,
    )  # fmt: skip
    rows = out[:count]
    assert rows["kind"].tolist() == [OrderCommand.CANCEL] * 2 + [OrderCommand.NEW] * 6
    assert rows["client_order_id"][:2].tolist() == [7, 8]
    # mid 100,400 = 1,004 ticks, skewed 2 ticks down; spread 8 ticks: half 4, step 4
    assert rows["price"][2:].tolist() == [99_800, 99_400, 99_000, 100_600, 101_000, 101_400]
    assert rows["side"][2:].tolist() == [Side.BUY] * 3 + [Side.SELL] * 3
    assert (rows["quantity"][2:] == 200).all()  # 10% of the 6,000 traded since, a third a level
    assert live.tolist() == [[20, 21, 22, 23, 24, 25]] and seen[0] == 7_000
    assert spread[0] == 800 and wakes[0] > 10 * S


def test_noise_traders_take_the_touch_once_on_a_random_side():
    wakes = np.array([10 * S, 10 * S, 10 * S + 5], np.int64)
    next_id, out = np.ones(3, np.int64), np.zeros(3, ORDER_DTYPE)
    u = np.array([[0.2, 0.5, 0, 0, 0.1], [0.7, 0.5, 0, 0, 0.1]])  # buy, sell; 100 shares each
    count, next_wake = kernels.noise_wake(
        10 * S, u.ravel(), np.zeros(1, np.int64), out, wakes, next_id, 99_900, 100_100, LOT, BASE
    )
    rows = out[:count]
    assert rows["side"].tolist() == [Side.BUY, Side.SELL]
    assert rows["price"].tolist() == [100_100, 99_900] and rows["quantity"].tolist() == [100, 100]
    assert wakes.tolist() == [NEVER, NEVER, 10 * S + 5] and next_wake == 10 * S + 5
    count, _ = kernels.noise_wake(
        10 * S + 5, u[0], np.zeros(1, np.int64), out, wakes, next_id, 99_900, 0, LOT, BASE
    )
    assert count == 0 and wakes[2] == NEVER  # no ask to take: no order, and no second try
