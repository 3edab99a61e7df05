"""Quote-driven market making: investors against makers' quotes, replacement, refusals."""

from __future__ import annotations

import pytest
from exchange_helpers import (
    BUY,
    MONDAY,
    PRICE,
    SELL,
    at,
    fills,
    kinds,
    make_exchange,
    total_cash,
    total_shares,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.mechanisms.market_maker import MarketMakerDesk
from exchange.orders import batch, order
from exchange.reasons import VenueReason as V
from exchange.venue import kernel as k
from exchange.venue.exchange import Exchange
from matching_engine.dtypes import TimeInForce

IOC = TimeInForce.IOC
KINDS = ("market_maker", "market_maker", "investor", "investor")


def desk(exchange: Exchange) -> MarketMakerDesk:
    (maker,) = exchange.desks
    return maker


def mm(**options) -> Exchange:
    exchange = make_exchange("techboard-mm", kinds=KINDS, **options)
    exchange.open_day(MONDAY)
    return exchange


@pytest.fixture
def board() -> Exchange:
    return mm()


def quote(exchange, maker, bid, ask, size, coid, t):
    rows = desk(exchange).quote(maker, 0, bid, size, ask, size, coid, t)
    return exchange.submit(rows)


def test_investors_trade_against_quotes_at_the_makers_price_in_time_priority(board):
    t = at(board, "09:30")
    quote(board, 0, PRICE - 100, PRICE + 100, 1_000, 1, t)
    quote(board, 1, PRICE - 200, PRICE + 100, 1_000, 1, t + 1)
    events = board.submit(batch(order(2, 0, BUY, PRICE + 300, 1_500, 1, t + 2, tif=IOC)))
    assert fills(events) == [(PRICE + 100, 1_000), (PRICE + 100, 500)]
    trades = events[events["kind"] == 3]
    assert trades["contra_owner"].tolist() == [0, 1]


def test_an_investor_day_order_is_refused_so_investors_never_meet(board):
    quote(board, 0, PRICE - 100, PRICE + 100, 1_000, 1, at(board, "09:30"))
    events = board.submit(batch(order(2, 0, SELL, PRICE + 100, 500, 1, at(board, "09:31"))))
    assert kinds(events) == ["REJECTED"] and events["reason"][0] == V.INVESTOR_TO_INVESTOR
    assert board.account(2)["reserved_shares"] == {}


def test_a_maker_quote_that_would_trade_with_another_makers_is_refused(board):
    t = at(board, "09:30")
    quote(board, 0, PRICE - 100, PRICE + 100, 1_000, 1, t)
    events = board.submit(batch(order(1, 0, BUY, PRICE + 100, 1_000, 1, t + 1)))
    assert kinds(events) == ["REJECTED"] and events["reason"][0] == V.MAKER_TO_MAKER
    assert board.day_stats(0).volume == 0


def test_a_new_quote_replaces_the_partly_filled_one(board):
    t = at(board, "09:30")
    quote(board, 0, PRICE - 100, PRICE + 100, 1_000, 1, t)
    board.submit(batch(order(2, 0, BUY, PRICE + 100, 400, 1, t + 1, tif=IOC)))
    assert desk(board).live(0, 0, SELL) == (PRICE + 100, 600)
    events = quote(board, 0, PRICE, PRICE + 200, 1_000, 3, t + 2)
    cancelled = events[events["kind"] == 4]
    assert cancelled["quantity"].tolist() == [1_000, 600]  # the old bid, the ask's unfilled part
    assert desk(board).live(0, 0, SELL) == (PRICE + 200, 1_000)
    asks = board.book(0).asks
    assert [(lv.price, lv.quantity) for lv in asks] == [(PRICE + 200, 1_000)]
    history = [(q.bid, q.bid_quantity, q.ask, q.ask_quantity) for q in desk(board).history]
    assert history[-3:] == [
        (PRICE - 100, 1_000, PRICE + 100, 600),
        (PRICE, 1_000, PRICE + 100, 600),
        (PRICE, 1_000, PRICE + 200, 1_000),
    ]


def test_journal_replay_rebuilds_the_quotes_and_their_history(tmp_path):
    path = tmp_path / "mm.tbj"
    live = mm(journal=path, fsync=False)
    t = at(live, "09:30")
    quote(live, 0, PRICE - 100, PRICE + 100, 1_000, 1, t)
    live.submit(batch(order(3, 0, SELL, PRICE - 100, 300, 1, t + 1, tif=IOC)))
    quote(live, 0, PRICE - 200, PRICE + 100, 2_000, 3, t + 2)
    live.end_of_day()
    replayed = Exchange.replay(path)
    assert replayed.digest() == live.digest()
    assert desk(replayed).history == desk(live).history


operation = st.one_of(
    st.tuples(
        st.just("quote"),
        st.integers(0, 1),
        st.integers(-5, 5),
        st.integers(1, 5),
        st.integers(1, 20),
    ),
    st.tuples(
        st.just("order"),
        st.integers(0, 3),
        st.sampled_from([BUY, SELL]),
        st.integers(-6, 6),
        st.integers(1, 30),
        st.sampled_from(list(TimeInForce)),
    ),
)


@settings(max_examples=30, deadline=None)
@given(st.lists(operation, max_size=40))
def test_cash_and_shares_are_conserved_by_market_making(operations):
    exchange = mm()
    cash, shares = total_cash(exchange), total_shares(exchange)
    t, coid = at(exchange, "09:30"), 1
    for op in operations:
        t += 10**9
        if op[0] == "quote":
            _, who, mid, half, lots = op
            bid, ask = PRICE + 100 * (mid - half), PRICE + 100 * (mid + half)
            quote(exchange, who, bid, ask, 100 * lots, coid, t)
        else:
            _, who, side, ticks, lots, tif = op
            row = order(who, 0, side, PRICE + 100 * ticks, 100 * lots, coid, t, tif=tif)
            exchange.submit(batch(row))
        coid += 2
        assert (total_cash(exchange), total_shares(exchange)) == (cash, shares)
        assert all(q.bid < q.ask for q in desk(exchange).history if q.bid and q.ask)
        live = exchange.state.ords[1 : exchange.state.g[k.G_NEXT_OID]]
        resting = live[live[:, k.O_STATE] == k.LIVE]
        assert set(resting[:, k.O_PART].tolist()) <= {0, 1}  # only makers rest
    exchange.end_of_day()
    assert (exchange.state.par[:, k.CASH_RES] == 0).all()
