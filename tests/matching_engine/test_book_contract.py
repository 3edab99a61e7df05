"""The matching contract of docs/matching.md, proven for every engine (fixture engine_factory).

Table rows rest as owner 1 (the maker); the driver's own orders are owner 2's unless told.
Prices in tables and driver calls are CNY; the book trades CNY 5.00 to 20.00 on a 0.01 tick.
"""

from __future__ import annotations

import numpy as np
import pytest

from matching_engine import commands
from matching_engine.api import FNV_OFFSET, BookSpec, Indicative, Level, Quote, RestingOrder, fold
from matching_engine.dtypes import (
    COMMAND_DTYPE,
    EVENT_DTYPE,
    EventKind,
    OrderType,
    Phase,
    Side,
    TieBreak,
    TimeInForce,
)
from matching_engine.reasons import Reason
from matching_engine.reference_book import ReferenceEngine

BUY, SELL = Side.BUY, Side.SELL
MARKET = OrderType.MARKET
IOC, FOK = TimeInForce.IOC, TimeInForce.FOK
ACCEPTED, REJECTED, TRADE = EventKind.ACCEPTED, EventKind.REJECTED, EventKind.TRADE
CANCELLED, REPLACED, EXPIRED = EventKind.CANCELLED, EventKind.REPLACED, EventKind.EXPIRED


# Limit orders


def test_limit_order_rests_at_its_price_when_nothing_crosses(market):
    market.load("""
        side  price  qty
        S     10.02  300
    """)
    events = market.buy(10.01, 200)
    assert events.dicts() == [
        market.event(ACCEPTED, side=BUY, owner=2, order_id=2, price=10.01, quantity=200, leaves=200)
    ]
    assert market.queue(BUY) == [(10.01, 200, 2)]


def test_buy_takes_the_best_price_first_then_arrival_order(market):
    dearer, first, second = market.load("""
        side  price  qty
        S     10.02  100
        S     10.01  100
        S     10.01  100
    """)
    events = market.buy(10.02, 250)
    assert events.fills() == [(10.01, 100), (10.01, 100), (10.02, 50)]
    assert [contra for _, contra, _ in events.matches()] == [first, second, dearer]
    assert market.queue(SELL) == [(10.02, 50, dearer)]
    assert market.queue(BUY) == []


def test_trade_reports_aggressor_resting_order_and_both_open_quantities(market):
    (resting,) = market.load("""
        side  price  qty
        S     10.01  100
    """)
    events = market.buy(10.02, 60)
    assert events.dicts()[1] == market.event(
        TRADE,
        side=BUY,
        owner=2,
        order_id=2,
        contra_owner=1,
        contra_order_id=resting,
        price=10.01,
        quantity=60,
        leaves=0,
        contra_leaves=40,
    )
    assert market.queue(SELL) == [(10.01, 40, resting)]


def test_sell_takes_the_highest_bids_first_at_their_prices(market):
    market.load("""
        side  price  qty
        B     9.99   100
        B     10.00  100
    """)
    events = market.sell(9.99, 150)
    assert events.fills() == [(10.00, 100), (9.99, 50)]
    assert set(events.of(TRADE)["side"]) == {SELL}
    assert market.queue(BUY) == [(9.99, 50, 1)]


def test_limit_remainder_rests_at_its_limit_after_filling(market):
    market.load("""
        side  price  qty
        S     10.01  100
        S     10.03  100
    """)
    events = market.buy(10.02, 150)
    assert events.fills() == [(10.01, 100)]
    assert market.queue(BUY) == [(10.02, 50, 3)]


# Market orders: a protection price bounds the sweep; DAY remainder rests at the last fill price


def test_market_order_walks_the_book(market):
    market.load("""
        side  price  qty
        S     10.02  300
        S     10.01  200
    """)
    events = market.buy(10.02, 400, order_type=MARKET)
    assert events.fills() == [(10.01, 200), (10.02, 200)]
    assert events.one(ACCEPTED)["price"] == 100_200  # the protection price
    assert market.queue(BUY) == []


def test_market_day_remainder_rests_as_limit_at_its_last_fill_price(market):
    market.load("""
        side  price  qty
        S     10.02  300
        S     10.01  200
        S     10.04  100
    """)
    events = market.buy(10.03, 600, order_type=MARKET)
    assert events.fills() == [(10.01, 200), (10.02, 300)]
    assert events.dicts()[-1] == market.event(
        REPLACED,
        side=BUY,
        owner=2,
        order_id=4,
        price=10.02,
        quantity=100,
        leaves=100,
        reason=Reason.MARKET_TO_LIMIT,
    )
    assert market.queue(BUY) == [(10.02, 100, 4)]
    assert market.queue(SELL) == [(10.04, 100, 3)]


def test_market_sell_remainder_rests_at_its_last_fill_price(market):
    market.load("""
        side  price  qty
        B     10.00  100
        B     9.99   100
    """)
    events = market.sell(9.98, 300, order_type=MARKET)
    assert events.fills() == [(10.00, 100), (9.99, 100)]
    assert events.reasons() == [(REPLACED, Reason.MARKET_TO_LIMIT)]
    assert market.queue(SELL) == [(9.99, 100, 3)]


def test_market_day_order_without_liquidity_is_cancelled_at_its_protection(market):
    market.load("""
        side  price  qty
        S     10.03  100
    """)
    events = market.buy(10.02, 100, order_type=MARKET)
    assert events.dicts()[-1] == market.event(
        CANCELLED,
        side=BUY,
        owner=2,
        order_id=2,
        price=10.02,
        quantity=100,
        reason=Reason.MARKET_NO_LIQUIDITY,
    )
    assert market.queue(BUY) == []


def test_market_ioc_remainder_is_cancelled(market):
    market.load("""
        side  price  qty
        S     10.01  100
    """)
    events = market.buy(10.05, 150, order_type=MARKET, tif=IOC)
    assert events.fills() == [(10.01, 100)]
    assert events.reasons() == [(CANCELLED, Reason.IOC_REMAINDER)]
    assert events.one(CANCELLED)["quantity"] == 50
    assert market.queue(BUY) == []


@pytest.mark.parametrize(("qty", "fills"), [(150, [(10.01, 100), (10.02, 50)]), (250, [])])
def test_market_fok_fills_in_full_within_its_protection_or_not_at_all(market, qty, fills):
    market.load("""
        side  price  qty
        S     10.01  100
        S     10.02  100
        S     10.03  100
    """)
    events = market.buy(10.02, qty, order_type=MARKET, tif=FOK)
    assert events.fills() == fills
    assert events.reasons() == ([] if fills else [(CANCELLED, Reason.FOK_UNFILLED)])


# IOC and FOK limit orders


def test_ioc_fills_what_crosses_and_cancels_the_rest(market):
    market.load("""
        side  price  qty
        S     10.01  100
        S     10.02  100
    """)
    events = market.buy(10.01, 150, tif=IOC)
    assert events.fills() == [(10.01, 100)]
    assert events.dicts()[-1] == market.event(
        CANCELLED,
        side=BUY,
        owner=2,
        order_id=3,
        price=10.01,
        quantity=50,
        reason=Reason.IOC_REMAINDER,
    )
    assert market.queue(BUY) == []


def test_ioc_that_crosses_nothing_is_cancelled_in_full(market):
    market.load("""
        side  price  qty
        S     10.02  100
    """)
    events = market.buy(10.01, 70, tif=IOC)
    assert events.kinds() == [ACCEPTED, CANCELLED]
    assert events.one(CANCELLED)["quantity"] == 70


def test_fok_fills_in_full_across_levels(market):
    market.load("""
        side  price  qty
        S     10.01  100
        S     10.02  100
    """)
    events = market.buy(10.02, 150, tif=FOK)
    assert events.fills() == [(10.01, 100), (10.02, 50)]
    assert events.of(TRADE)["leaves"].tolist() == [50, 0]


def test_fok_short_of_quantity_within_its_limit_is_killed_without_fills(market):
    market.load("""
        side  price  qty
        S     10.01  100
        S     10.02  100
    """)
    before = market.engine.state_hash()
    events = market.buy(10.01, 150, tif=FOK)
    assert events.dicts()[-1] == market.event(
        CANCELLED,
        side=BUY,
        owner=2,
        order_id=3,
        price=10.01,
        quantity=150,
        reason=Reason.FOK_UNFILLED,
    )
    assert events.fills() == []
    assert market.engine.state_hash() == before


def test_fok_counts_liquidity_only_up_to_the_first_order_of_its_owner(market):
    market.load("""
        side  price  qty  owner
        S     10.01  100  3
        S     10.01  100  2
        S     10.01  100  3
    """)
    killed = market.buy(10.01, 150, tif=FOK)
    assert killed.reasons() == [(CANCELLED, Reason.FOK_UNFILLED)]
    filled = market.buy(10.01, 100, tif=FOK)
    assert filled.matches() == [(5, 1, 100)]
    assert filled.reasons() == []


# Self-trade prevention


def test_self_trade_stops_matching_and_cancels_the_incoming_remainder(market):
    other, own, behind = market.load("""
        side  price  qty  owner
        S     10.01  100  1
        S     10.02  100  2
        S     10.02  100  1
    """)
    events = market.buy(10.02, 300)
    assert events.matches() == [(4, other, 100)]
    assert events.dicts()[-1] == market.event(
        CANCELLED,
        side=BUY,
        owner=2,
        order_id=4,
        price=10.02,
        quantity=200,
        reason=Reason.SELF_TRADE,
    )
    assert market.queue(SELL) == [(10.02, 100, own), (10.02, 100, behind)]
    assert market.queue(BUY) == []


def test_self_trade_cancels_a_market_day_remainder_instead_of_resting_it(market):
    market.load("""
        side  price  qty  owner
        S     10.01  100  1
        S     10.02  100  2
    """)
    events = market.buy(10.02, 300, order_type=MARKET)
    assert events.fills() == [(10.01, 100)]
    assert events.reasons() == [(CANCELLED, Reason.SELF_TRADE)]
    assert market.queue(BUY) == []


# Cancel


def test_cancel_removes_the_open_quantity_of_a_partly_filled_order(market):
    (order,) = market.load("""
        side  price  qty
        S     10.01  100
    """)
    market.buy(10.01, 30)
    events = market.cancel(order)
    assert events.dicts() == [
        market.event(
            CANCELLED,
            side=SELL,
            owner=1,
            order_id=order,
            price=10.01,
            quantity=70,
            reason=Reason.CANCELLED_BY_OWNER,
        )
    ]
    assert market.queue(SELL) == []
    assert market.cancel(order).reasons() == [(REJECTED, Reason.UNKNOWN_ORDER)]


# Replace


def test_replace_quantity_down_keeps_priority(market):
    first, second = market.load("""
        side  price  qty
        S     10.01  100
        S     10.01  100
    """)
    events = market.replace(first, 10.01, 40)
    assert events.dicts() == [
        market.event(
            REPLACED, side=SELL, owner=1, order_id=first, price=10.01, quantity=40, leaves=40
        )
    ]
    assert market.queue(SELL) == [(10.01, 40, first), (10.01, 100, second)]
    assert market.buy(10.01, 40).matches() == [(3, first, 40)]


def test_replace_to_the_same_quantity_keeps_priority(market):
    first, second = market.load("""
        side  price  qty
        S     10.01  100
        S     10.01  100
    """)
    market.replace(first, 10.01, 100)
    assert market.queue(SELL) == [(10.01, 100, first), (10.01, 100, second)]


def test_replace_quantity_up_loses_priority(market):
    first, second = market.load("""
        side  price  qty
        S     10.01  100
        S     10.01  100
    """)
    market.replace(first, 10.01, 150)
    assert market.queue(SELL) == [(10.01, 100, second), (10.01, 150, first)]


def test_replace_price_loses_priority_even_when_moved_back(market):
    first, second = market.load("""
        side  price  qty
        B     10.00  100
        B     10.00  100
    """)
    market.replace(first, 9.99, 100)
    assert market.queue(BUY) == [(10.00, 100, second), (9.99, 100, first)]
    market.replace(first, 10.00, 100)
    assert market.queue(BUY) == [(10.00, 100, second), (10.00, 100, first)]


def test_replace_that_crosses_trades_as_the_aggressor(market):
    bid, ask = market.load("""
        side  price  qty  owner
        B     10.00  100  1
        S     10.02  100  3
    """)
    events = market.replace(bid, 10.02, 150)
    assert events.dicts() == [
        market.event(
            REPLACED, side=BUY, owner=1, order_id=bid, price=10.02, quantity=150, leaves=150
        ),
        market.event(
            TRADE,
            side=BUY,
            owner=1,
            order_id=bid,
            contra_owner=3,
            contra_order_id=ask,
            price=10.02,
            quantity=100,
            leaves=50,
        ),
    ]
    assert market.queue(BUY) == [(10.02, 50, bid)]


def test_replace_into_an_own_order_is_cancelled_as_a_self_trade(market):
    bid, ask = market.load("""
        side  price  qty
        B     10.00  100
        S     10.02  100
    """)
    events = market.replace(bid, 10.02, 100)
    assert events.kinds() == [REPLACED, CANCELLED]
    assert events.reasons() == [(CANCELLED, Reason.SELF_TRADE)]
    assert market.queue(BUY) == []
    assert market.queue(SELL) == [(10.02, 100, ask)]


# Phases


def test_call_phase_collects_crossing_limit_orders_without_matching(call_market):
    _, _, bid, ask = call_market.load("""
        side  price  qty
        B     10.02  100
        S     10.00  100
        B     10.03  100
        S     9.99   100
    """)
    assert call_market.replace(bid, 10.04, 200).kinds() == [REPLACED]
    assert call_market.replace(ask, 9.98, 200).kinds() == [REPLACED]
    assert call_market.engine.resting() == 4


@pytest.mark.parametrize(
    ("order_type", "tif"),
    [(MARKET, TimeInForce.DAY), (OrderType.LIMIT, IOC), (OrderType.LIMIT, FOK), (MARKET, FOK)],
)
def test_call_phase_accepts_only_limit_day_orders(call_market, order_type, tif):
    events = call_market.buy(10.00, 100, order_type=order_type, tif=tif)
    assert events.reasons() == [(REJECTED, Reason.PHASE_REJECTS_ORDER)]


def test_halted_book_rejects_new_orders_and_replaces_but_cancels(market):
    (order,) = market.load("""
        side  price  qty
        B     10.00  100
    """)
    assert market.set_phase(Phase.HALTED).kinds() == [EventKind.PHASE]
    assert market.buy(10.00, 100).reasons() == [(REJECTED, Reason.PHASE_REJECTS_ORDER)]
    assert market.replace(order, 10.00, 50).reasons() == [(REJECTED, Reason.PHASE_REJECTS_ORDER)]
    assert market.cancel(order).reasons() == [(CANCELLED, Reason.CANCELLED_BY_OWNER)]


def test_set_phase_always_reports_the_phase(market):
    assert market.set_phase(Phase.CONTINUOUS).dicts() == [market.event(EventKind.PHASE)]
    events = market.set_phase(Phase.CALL)
    assert events.dicts() == [market.event(EventKind.PHASE, phase=Phase.CALL)]
    assert market.engine.phase(0) == Phase.CALL


def test_continuous_trading_resumes_only_on_an_uncrossed_book(call_market):
    bid, _ = call_market.load("""
        side  price  qty
        B     10.02  100
        S     10.00  100
    """)
    assert call_market.set_phase(Phase.CONTINUOUS).reasons() == [(REJECTED, Reason.BOOK_CROSSED)]
    call_market.replace(bid, 9.99, 100)
    assert call_market.set_phase(Phase.CONTINUOUS).kinds() == [EventKind.PHASE]
    assert call_market.engine.phase(0) == Phase.CONTINUOUS


def test_a_bid_at_the_ask_counts_as_crossed(call_market):
    call_market.load("""
        side  price  qty
        B     10.00  100
        S     10.00  100
    """)
    assert call_market.set_phase(Phase.CONTINUOUS).reasons() == [(REJECTED, Reason.BOOK_CROSSED)]


# Clear


def test_clear_expires_bids_best_first_then_asks_best_first_in_time_order(market):
    a, b, c, d, e = market.load("""
        side  price  qty
        B     10.00  100
        B     10.01  50
        B     10.00  30
        S     10.03  10
        S     10.02  20
    """)
    market.buy(10.01, 20)  # rests as order 6 behind b
    events = market.clear()
    assert [int(i) for i in events.rows["order_id"]] == [b, 6, a, c, e, d]
    assert events.dicts()[0] == market.event(
        EXPIRED,
        side=BUY,
        owner=1,
        order_id=b,
        price=10.01,
        quantity=50,
        reason=Reason.SESSION_END,
    )
    assert events.of(EXPIRED)["quantity"].tolist() == [50, 20, 100, 30, 20, 10]
    assert market.engine.resting() == 0
    assert market.engine.phase(0) == Phase.CONTINUOUS


def test_clear_of_an_empty_book_says_nothing(market):
    assert len(market.clear()) == 0


# Queries


def test_queries_show_the_book(market):
    market.load("""
        side  price  qty
        B     10.00  100
        B     10.00  50
        B     9.98   70
        B     9.97   10
        S     10.02  40
    """)
    engine = market.engine
    assert engine.best(0) == Quote(100_000, 150, 100_200, 40)
    assert engine.depth(0, BUY, 2) == [Level(100_000, 150, 2), Level(99_800, 70, 1)]
    assert engine.depth(0, SELL, 5) == [Level(100_200, 40, 1)]
    assert engine.orders(0, SELL) == [RestingOrder(5, 1, 100_200, 40)]
    assert [o.order_id for o in engine.orders(0, BUY)] == [1, 2, 3, 4]
    assert engine.indicative(0) == Indicative(0, 0, 0)
    assert engine.resting() == 5
    assert engine.phase(0) == Phase.CONTINUOUS


def test_queries_of_an_empty_book(market):
    engine = market.engine
    assert engine.best(0) == Quote(0, 0, 0, 0)
    assert engine.depth(0, BUY, 5) == []
    assert engine.orders(0, SELL) == []
    assert engine.resting() == 0


# Batches and books


def test_events_carry_their_command_index_and_timestamp(market):
    rows = commands.batch(
        commands.new(1, SELL, 100_100, 100, timestamp=11),
        commands.new(2, BUY, 0, 100, timestamp=22),
        commands.new(3, BUY, 100_100, 100, owner=2, timestamp=33),
    )
    events = market.engine.process(rows)
    assert events.dtype == EVENT_DTYPE
    assert events["command"].tolist() == [0, 1, 2, 2]
    assert events["timestamp"].tolist() == [11, 22, 33, 33]
    assert events["kind"].tolist() == [ACCEPTED, REJECTED, ACCEPTED, TRADE]


def test_empty_batch_gives_no_events(market):
    events = market.engine.process(np.zeros(0, dtype=COMMAND_DTYPE))
    assert events.dtype == EVENT_DTYPE
    assert len(events) == 0


def test_books_are_independent_but_share_live_ids(make_market):
    zero = make_market(BookSpec(50_000, 200_000, 100), BookSpec(1_000, 5_000, 1_000))
    one = zero.on(1)
    (bid,) = zero.load("""
        side  price  qty
        B     10.00  100
    """)
    assert one.sell(0.1, 100).kinds() == [ACCEPTED]
    assert one.sell(0.2, 100, order_id=bid).reasons() == [(REJECTED, Reason.DUPLICATE_ORDER_ID)]
    assert one.cancel(bid).reasons() == [(REJECTED, Reason.UNKNOWN_ORDER)]
    zero.cancel(bid)
    assert one.sell(0.2, 100, order_id=bid).kinds() == [ACCEPTED]
    assert zero.engine.resting() == 2


# State hash


def test_state_hash_folds_phase_and_orders_in_priority_order(market):
    market.load("""
        side  price  qty  owner
        B     10.00  100  7
        B     10.01  50   8
        S     10.02  40   9
    """)
    expected = FNV_OFFSET
    for value in (0, Phase.CONTINUOUS, 100_100, 2, 8, 50, 100_000, 1, 7, 100, 100_200, 3, 9, 40):
        expected = fold(expected, value)
    assert market.engine.state_hash() == expected


def test_state_hash_agrees_across_engines(numba_factory):
    specs = (
        BookSpec(50_000, 200_000, 100),
        BookSpec(50_000, 200_000, 100, TieBreak.SZSE, Phase.CALL),
    )
    engines = [ReferenceEngine(specs), numba_factory(specs)]
    rows = commands.batch(
        commands.new(1, BUY, 100_000, 100),
        commands.new(2, SELL, 100_200, 100, owner=2),
        commands.new(3, BUY, 100_300, 150, owner=3, book=1),
        commands.new(4, SELL, 100_100, 100, owner=4, book=1),
        commands.new(5, SELL, 100_000, 30, owner=5),
        commands.replace(2, 100_100, 120, owner=2),
    )
    hashes = set()
    for engine in engines:
        engine.process(rows)
        hashes.add(engine.state_hash())
    assert len(hashes) == 1
    assert hashes != {ReferenceEngine(specs).state_hash()}


# Rejects: every reason code, the first failing check wins, and the state is unchanged.

HALTED_BOOK, CALL_BOOK, NO_BOOK = 1, 2, 3
PX, TICK, STAMP = 100_000, 100, 77  # CNY 10.00, the tick, a timestamp to echo
LIVE, DEAD, CALL_LIVE, HALTED_LIVE = 1, 4, 5, 6  # ids made by the `rejecting` fixture
new, cancel, replace = commands.new, commands.cancel, commands.replace
REJECTS = [
    (commands.command(0, book=0), Reason.UNKNOWN_COMMAND),
    (commands.command(7, book=0, order_id=LIVE), Reason.UNKNOWN_COMMAND),
    (commands.command(200, book=NO_BOOK), Reason.UNKNOWN_COMMAND),
    (new(50, BUY, PX, 1, book=NO_BOOK), Reason.UNKNOWN_BOOK),
    (new(50, 9, PX, 1, book=-1), Reason.UNKNOWN_BOOK),
    (cancel(LIVE, book=NO_BOOK), Reason.UNKNOWN_BOOK),
    (replace(LIVE, PX, 1, book=NO_BOOK), Reason.UNKNOWN_BOOK),
    (commands.uncross(book=NO_BOOK), Reason.UNKNOWN_BOOK),
    (commands.set_phase(Phase.CALL, book=NO_BOOK), Reason.UNKNOWN_BOOK),
    (commands.clear(book=-3), Reason.UNKNOWN_BOOK),
    (new(50, 2, PX, 1), Reason.INVALID_SIDE),
    (new(50, 255, PX, 0, order_type=9), Reason.INVALID_SIDE),
    (new(50, BUY, PX, 1, order_type=2), Reason.INVALID_ORDER_TYPE),
    (new(50, BUY, PX, 1, order_type=2, tif=9), Reason.INVALID_ORDER_TYPE),
    (new(50, BUY, PX, 1, tif=3), Reason.INVALID_TIME_IN_FORCE),
    (new(0, BUY, PX, 1), Reason.INVALID_ORDER_ID),
    (new(-7, BUY, PX, 0), Reason.INVALID_ORDER_ID),
    (new(50, BUY, PX, 0), Reason.INVALID_QUANTITY),
    (new(50, SELL, PX + 1, -5), Reason.INVALID_QUANTITY),
    (replace(LIVE, PX, 0), Reason.INVALID_QUANTITY),
    (new(50, BUY, PX + TICK // 2, 1), Reason.OFF_TICK),
    (new(50, BUY, 200_050, 1), Reason.OFF_TICK),
    (new(50, BUY, PX + 1, 1, order_type=MARKET), Reason.OFF_TICK),
    (replace(LIVE, PX + 1, 100), Reason.OFF_TICK),
    (new(50, BUY, 49_900, 1), Reason.PRICE_OUT_OF_BAND),
    (new(50, SELL, 200_100, 1), Reason.PRICE_OUT_OF_BAND),
    (new(50, SELL, 0, 1), Reason.PRICE_OUT_OF_BAND),
    (new(50, SELL, -TICK, 1), Reason.PRICE_OUT_OF_BAND),
    (new(50, SELL, 200_100, 1, book=HALTED_BOOK), Reason.PRICE_OUT_OF_BAND),
    (replace(LIVE, 200_100, 100), Reason.PRICE_OUT_OF_BAND),
    (replace(HALTED_LIVE, 200_100, 1, book=HALTED_BOOK), Reason.PRICE_OUT_OF_BAND),
    (new(50, BUY, PX, 1, book=HALTED_BOOK), Reason.PHASE_REJECTS_ORDER),
    (new(LIVE, BUY, PX, 1, book=HALTED_BOOK), Reason.PHASE_REJECTS_ORDER),
    (replace(HALTED_LIVE, PX, 1, book=HALTED_BOOK), Reason.PHASE_REJECTS_ORDER),
    (new(50, BUY, PX, 1, book=CALL_BOOK, order_type=MARKET), Reason.PHASE_REJECTS_ORDER),
    (new(50, BUY, PX, 1, book=CALL_BOOK, tif=IOC), Reason.PHASE_REJECTS_ORDER),
    (new(50, BUY, PX, 1, book=CALL_BOOK, tif=FOK), Reason.PHASE_REJECTS_ORDER),
    (new(LIVE, SELL, PX, 1), Reason.DUPLICATE_ORDER_ID),
    (new(CALL_LIVE, SELL, PX, 1), Reason.DUPLICATE_ORDER_ID),
    (new(LIVE, BUY, PX, 1, book=CALL_BOOK), Reason.DUPLICATE_ORDER_ID),
    (cancel(99), Reason.UNKNOWN_ORDER),
    (cancel(0), Reason.UNKNOWN_ORDER),
    (cancel(DEAD), Reason.UNKNOWN_ORDER),
    (cancel(DEAD - 1), Reason.UNKNOWN_ORDER),
    (cancel(CALL_LIVE), Reason.UNKNOWN_ORDER),
    (replace(99, PX, 1), Reason.UNKNOWN_ORDER),
    (replace(CALL_LIVE, 1, 0, owner=2), Reason.UNKNOWN_ORDER),
    (cancel(LIVE, owner=2), Reason.NOT_ORDER_OWNER),
    (replace(LIVE, PX + 1, 0, owner=2), Reason.NOT_ORDER_OWNER),
    (commands.set_phase(3), Reason.INVALID_PHASE),
    (commands.uncross(then=9), Reason.INVALID_PHASE),
    (commands.uncross(book=CALL_BOOK, then=9), Reason.INVALID_PHASE),
    (commands.set_phase(Phase.CONTINUOUS, book=CALL_BOOK), Reason.BOOK_CROSSED),
    (commands.uncross(book=CALL_BOOK), Reason.MISSING_REFERENCE_PRICE),
    (commands.uncross(book=CALL_BOOK, reference=-PX), Reason.MISSING_REFERENCE_PRICE),
]


@pytest.fixture
def rejecting(make_market):
    """Return a market of three books with live, dead and crossed orders to reject against.

    Book 0 (continuous): bid 1 and ask 2 rest; 3 filled 4 in full, so 3 and 4 are dead.
    Book 1 (halted): bid 6 rests. Book 2 (SZSE call phase): bid 5 crosses ask 7.
    """
    spec = BookSpec(50_000, 200_000, 100)
    market = make_market(spec, spec, BookSpec(50_000, 200_000, 100, TieBreak.SZSE, Phase.CALL))
    market.load("""
        side  price  qty
        B     9.90   100
        S     10.10  100
        B     10.00  50
    """)
    market.sell(10.00, 50)
    market.on(CALL_BOOK).buy(10.10, 100)
    market.on(HALTED_BOOK).buy(10.00, 100, owner=1)
    market.on(HALTED_BOOK).set_phase(Phase.HALTED)
    market.on(CALL_BOOK).sell(10.00, 100, owner=3)
    return market


@pytest.mark.parametrize(
    ("row", "reason"), [pytest.param(row, reason, id=reason.name) for row, reason in REJECTS]
)
def test_reject_echoes_the_command_and_leaves_the_state_unchanged(rejecting, row, reason):
    engine = rejecting.engine
    assert [o.order_id for o in engine.orders(0, BUY)] == [LIVE]
    before = (engine.state_hash(), engine.resting())
    row = row.copy()
    row["timestamp"] = STAMP
    events = rejecting.submit(row)
    book = int(row["book"])
    expected = rejecting.on(book).event(
        REJECTED,
        reason=reason,
        side=int(row["side"]),
        owner=int(row["owner"]),
        order_id=int(row["order_id"]),
        quantity=int(row["quantity"]),
        phase=engine.phase(book) if 0 <= book < len(engine.specs) else 0,
        timestamp=STAMP,
    )
    expected["price"] = int(row["price"])
    assert events.dicts() == [expected]
    assert (engine.state_hash(), engine.resting()) == before


def test_every_reject_reason_is_covered():
    rejects = {reason for reason in Reason if reason < 100 and reason != Reason.NONE}
    assert {reason for _, reason in REJECTS} == rejects


def test_a_reject_does_not_stop_the_batch(market):
    events = market.submit(
        commands.new(1, BUY, PX, 0),
        commands.new(1, BUY, PX, 10),
    )
    assert events.kinds() == [REJECTED, ACCEPTED]
