"""Call auction: cases worked by hand from the exchange rule, and properties on random order sets.

The rule (docs/matching.md, UNCROSS): the candidate price with the largest volume, then the
smallest imbalance, then the board's tie-break (SSE midpoint, SZSE nearest the reference).
"""

from __future__ import annotations

from fractions import Fraction
from math import floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching_engine import commands
from matching_engine.api import BookSpec, Indicative
from matching_engine.dtypes import EventKind, Phase, Side, TieBreak

BUY, SELL = Side.BUY, Side.SELL
TRADE, UNCROSSED, PHASE = EventKind.TRADE, EventKind.UNCROSSED, EventKind.PHASE


# Worked cases (prices in CNY on a 0.01 tick)


def test_price_maximises_volume_and_better_priced_orders_fill(call_market):
    b1, b2, b3, a1, a2, a3 = call_market.load("""
        side  price  qty
        B     10.03  300
        B     10.02  200
        B     10.01  500
        S     10.00  400
        S     10.02  300
        S     10.04  100
    """)
    # D(10.02) = 500, S(10.02) = 700: volume 500, imbalance 200; no other candidate.
    assert call_market.engine.indicative(0) == Indicative(100_200, 500, 200)
    events = call_market.uncross()
    assert events.matches() == [(b1, a1, 300), (b2, a1, 100), (b2, a2, 100)]
    assert call_market.queue(BUY) == [(10.01, 500, b3)]
    assert call_market.queue(SELL) == [(10.02, 200, a2), (10.04, 100, a3)]


def test_allocation_in_time_priority_leaves_one_order_part_filled(call_market):
    bid, a1, a2, a3, a4 = call_market.load("""
        side  price  qty
        B     10.02  250
        S     10.01  100
        S     10.02  100
        S     10.02  100
        S     10.02  100
    """)
    events = call_market.uncross()
    assert events.one(UNCROSSED)["price"] == 100_200
    assert events.matches() == [(bid, a1, 100), (bid, a2, 100), (bid, a3, 50)]
    assert call_market.queue(SELL) == [(10.02, 50, a3), (10.02, 100, a4)]
    assert call_market.queue(BUY) == []


@pytest.mark.parametrize(
    ("bid", "ask", "price"),
    [(10.05, 10.01, 100_300), (10.04, 10.01, 100_300), (10.02, 10.01, 100_200)],
)
def test_sse_takes_the_midpoint_of_tied_prices_rounded_half_up(call_market, bid, ask, price):
    call_market.buy(bid, 100)
    call_market.sell(ask, 100)
    assert call_market.engine.indicative(0) == Indicative(price, 100, 0)


@pytest.mark.parametrize(
    ("reference", "price"),
    [(9.00, 100_100), (10.20, 100_500), (10.04, 100_400), (10.03, 100_300), (10.035, 100_300)],
    ids=["below-range", "above-range", "inside", "on-a-tied-tick", "equidistant-takes-lower"],
)
def test_szse_takes_the_tied_price_nearest_the_reference(szse_market, reference, price):
    szse_market.buy(10.05, 100)
    szse_market.sell(10.01, 100)
    result = Indicative(price, 100, 0)
    assert szse_market.engine.indicative(0, round(reference * 10_000)) == result
    assert szse_market.uncross(reference=reference).one(UNCROSSED)["price"] == price


@pytest.mark.parametrize("tie_break", list(TieBreak))
def test_least_imbalance_decides_before_the_tie_break(make_market, tie_break):
    market = make_market(BookSpec(50_000, 200_000, 100, tie_break, Phase.CALL))
    market.load("""
        side  price  qty
        B     10.02  100
        B     10.01  20
        S     10.01  100
        S     10.02  50
    """)
    # 10.01 and 10.02 both trade 100; imbalance 120 - 100 = 20 at 10.01, 150 - 100 = 50 at 10.02.
    assert market.engine.indicative(0, 100_200) == Indicative(100_100, 100, 20)
    events = market.uncross(reference=10.02)
    assert events.fills() == [(10.01, 100)]
    assert market.queue(BUY) == [(10.01, 20, 2)]
    assert market.queue(SELL) == [(10.02, 50, 4)]


@pytest.mark.parametrize(
    "table",
    ["side price qty", "side price qty\nB 10.00 100", "side price qty\nB 10.00 100\nS 10.01 100"],
    ids=["empty", "one-sided", "bid-below-ask"],
)
def test_nothing_crosses(call_market, table):
    call_market.load(table)
    before = call_market.engine.state_hash()
    assert call_market.engine.indicative(0) == Indicative(0, 0, 0)
    events = call_market.uncross(then=Phase.CALL)
    assert events.dicts() == [call_market.event(UNCROSSED, phase=Phase.CALL)]
    assert call_market.engine.state_hash() == before


def test_uncross_reports_result_trades_then_the_new_phase(call_market):
    bid, ask = call_market.load("""
        side  price  qty  owner
        B     10.02  100  1
        S     10.01  60   1
    """)
    events = call_market.uncross()
    continuous = Phase.CONTINUOUS
    assert events.dicts() == [
        call_market.event(UNCROSSED, price=10.02, quantity=60, leaves=40, phase=continuous),
        call_market.event(
            TRADE,
            side=BUY,
            owner=1,
            order_id=bid,
            contra_owner=1,
            contra_order_id=ask,
            price=10.02,
            quantity=60,
            leaves=40,
            phase=continuous,
        ),
        call_market.event(PHASE, phase=continuous),
    ]
    assert call_market.queue(BUY) == [(10.02, 40, bid)]


def test_uncross_in_continuous_trading_without_a_cross_says_only_uncrossed(market):
    market.load("""
        side  price  qty
        B     10.00  100
    """)
    assert market.uncross().kinds() == [UNCROSSED]


def test_remainder_expires_when_the_session_clears_after_the_uncross(call_market):
    call_market.load("""
        side  price  qty
        B     10.02  100
        S     10.01  60
        S     10.05  10
    """)
    call_market.uncross(then=Phase.CALL)
    events = call_market.clear()
    assert events.of(EventKind.EXPIRED)["quantity"].tolist() == [40, 10]
    assert call_market.engine.resting() == 0


# Properties on random order sets

SPEC_TICK = 10
BAND = (100, 200)  # eleven prices on a tick of 10
orders = st.lists(
    st.tuples(
        st.sampled_from([BUY, SELL]),
        st.integers(0, 10).map(lambda i: BAND[0] + SPEC_TICK * i),
        st.integers(1, 3),  # small quantities tie often: the imbalance and tie-break rules bite
        st.integers(1, 2),  # few owners: self-trade prevention must not apply in an uncross
    ),
    max_size=16,
)
boards = st.sampled_from(list(TieBreak))
references = st.integers(1, 250)


def brute_force(book: list[tuple[Side, int, int, int]], tie_break: TieBreak, reference: int):
    """Evaluate the exchange rule at every tick of the band, straight from its text."""

    def total(side: Side, priced) -> int:
        return sum(qty for s, price, qty, _ in book if s == side and priced(price))

    candidates = []
    for p in range(BAND[0], BAND[1] + 1, SPEC_TICK):
        demand = total(BUY, lambda price, p=p: price >= p)
        supply = total(SELL, lambda price, p=p: price <= p)
        volume = min(demand, supply)
        bids_above_fill = total(BUY, lambda price, p=p: price > p) <= volume
        asks_below_fill = total(SELL, lambda price, p=p: price < p) <= volume
        if volume and bids_above_fill and asks_below_fill:
            candidates.append((volume, -abs(demand - supply), p))
    if not candidates:
        return Indicative(0, 0, 0)
    volume, imbalance, _ = max(candidates)
    tied = [p for v, m, p in candidates if (v, m) == (volume, imbalance)]
    if tie_break == TieBreak.SZSE:
        price = min(tied, key=lambda p: (abs(p - reference), p))
    else:
        midpoint = Fraction(min(tied) + max(tied), 2)
        price = SPEC_TICK * floor(midpoint / SPEC_TICK + Fraction(1, 2))
    return Indicative(price, volume, -imbalance)


def better_than(side: Side, price: int, other: int) -> bool:
    """Return whether `price` is better than `other` for an order of `side`."""
    return price > other if side == BUY else price < other


def call_book(engine_factory, book, tie_break):
    """Return an engine whose only book, in the call phase, holds `book` in arrival order."""
    engine = engine_factory([BookSpec(*BAND, SPEC_TICK, tie_break, Phase.CALL)])
    rows = [
        commands.new(i, side, price, qty, owner=owner)
        for i, (side, price, qty, owner) in enumerate(book, start=1)
    ]
    if rows:
        engine.process(commands.batch(*rows))
    return engine


@settings(max_examples=200, deadline=None)
@given(book=orders, tie_break=boards, reference=references)
def test_indicative_follows_the_rule_at_every_price(engine_factory, book, tie_break, reference):
    engine = call_book(engine_factory, book, tie_break)
    result = engine.indicative(0, reference)
    assert result == brute_force(book, tie_break, reference)
    for p in range(BAND[0], BAND[1] + 1, SPEC_TICK):
        demand = sum(q for s, price, q, _ in book if s == BUY and price >= p)
        supply = sum(q for s, price, q, _ in book if s == SELL and price <= p)
        assert min(demand, supply) <= result.volume, f"{p} executes more than {result}"


@settings(max_examples=200, deadline=None)
@given(book=orders, tie_break=boards, reference=references)
def test_uncross_fills_in_price_time_priority_and_leaves_no_cross(
    engine_factory, book, tie_break, reference
):
    engine = call_book(engine_factory, book, tie_break)
    queues = {side: engine.orders(0, side) for side in Side}
    expected = engine.indicative(0, reference)
    events = engine.process(commands.batch(commands.uncross(reference=reference)))

    price, volume, imbalance = (int(events[0][name]) for name in ("price", "quantity", "leaves"))
    assert (price, volume, imbalance) == expected
    trades = events[events["kind"] == TRADE]
    assert set(trades["price"].tolist()) <= {price}
    assert int(trades["quantity"].sum()) == volume
    filled = {side: dict.fromkeys((o.order_id for o in queues[side]), 0) for side in Side}
    for trade in trades:
        filled[BUY][int(trade["order_id"])] += int(trade["quantity"])
        filled[SELL][int(trade["contra_order_id"])] += int(trade["quantity"])
    for side in Side:
        # Fills form a prefix of the priority queue: full, at most one part-filled, then none.
        shares = [Fraction(filled[side][o.order_id], o.leaves) for o in queues[side]]
        assert shares == sorted(shares, reverse=True)
        assert sum(0 < share < 1 for share in shares) <= 1
        better = [o for o in queues[side] if price and better_than(side, o.price, price)]
        assert all(filled[side][o.order_id] == o.leaves for o in better)
    left_at_price = [any(o.price == price for o in engine.orders(0, side)) for side in Side]
    assert not all(left_at_price), "neither side filled in full at the auction price"
    bid, _, ask, _ = engine.best(0)
    assert not (bid and ask and bid >= ask), "the book is crossed after the uncross"
    assert engine.phase(0) == Phase.CONTINUOUS
