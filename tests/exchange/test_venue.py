"""The Exchange API as stories: orders in, events, fees, market data and accounts out."""

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
    send,
    total_cash,
)
from venue_helpers import CNY

from exchange.dtypes import MarketDataKind
from exchange.fees.schedule import fill_fees, load_schedule
from exchange.mechanisms.registry import MECHANISMS, MechanismNotAvailable
from exchange.orders import batch, cancel, order
from exchange.reasons import VenueReason
from exchange.venue.exchange import Listing
from instruments.lifecycle import Conversion, Payment, SharesDistributed
from matching_engine.dtypes import EventKind, OrderType, Phase, TimeInForce


def test_a_continuous_fill_charges_itemised_fees_and_moves_cash_and_shares(star):
    t = at(star, "09:31")
    send(star, order(1, 0, SELL, PRICE, 1_000, 1, t))
    events = send(star, order(0, 0, BUY, PRICE + 100, 400, 1, t + 1))
    assert kinds(events) == ["ACCEPTED", "TRADE"]
    assert fills(events) == [(PRICE, 400)]
    schedule = load_schedule("standard")
    buyer = fill_fees(schedule, BUY, "taker", "investor", 400 * PRICE)
    seller = fill_fees(schedule, SELL, "maker", "investor", 400 * PRICE)
    trade = events[1]
    assert (trade["fee"], trade["contra_fee"]) == (
        sum(i.amount for i in buyer),
        sum(i.amount for i in seller),
    )
    items = star.last_fees
    assert sorted(items["amount"][items["participant"] == 0].tolist()) == sorted(
        i.amount for i in buyer if i.amount
    )
    assert star.account(0)["positions"] == {"AAA": 10_400}
    assert star.account(0)["cash"] == 1_000_000 * CNY - 400 * PRICE - trade["fee"]
    assert star.account(1)["reserved_shares"] == {"AAA": 600}
    assert star.account(0)["reserved"] == 0  # filled in full: the reservation is released


def test_market_data_deltas_and_prints_carry_per_instrument_sequence_numbers(star):
    t = at(star, "09:31")
    send(star, order(1, 0, SELL, PRICE, 1_000, 1, t), order(2, 0, SELL, PRICE + 100, 500, 1, t))
    first = star.last_market_data
    send(star, order(0, 0, BUY, PRICE + 100, 1_200, 1, t + 1))
    md = star.last_market_data
    seq = [*first["seq"].tolist(), *md["seq"].tolist()]
    assert seq == list(range(seq[0], seq[0] + len(seq)))
    trades = md[md["kind"] == MarketDataKind.TRADE]
    assert list(zip(trades["price"].tolist(), trades["quantity"].tolist(), strict=True)) == [
        (PRICE, 1_000),
        (PRICE + 100, 200),
    ]
    levels = md[md["kind"] == MarketDataKind.LEVEL]
    assert [(int(r["side"]), int(r["price"]), int(r["quantity"])) for r in levels] == [
        (SELL, PRICE, 0),
        (SELL, PRICE + 100, 300),
    ]
    book = star.book(0)
    assert book.seq == md["seq"][-1]
    assert [(lv.price, lv.quantity) for lv in book.asks] == [(PRICE + 100, 300)]
    stats = star.day_stats(0)
    assert (stats.open, stats.high, stats.low, stats.last, stats.volume) == (
        PRICE, PRICE + 100, PRICE, PRICE + 100, 1_200
    )  # fmt: skip
    assert stats.vwap == (1_000 * PRICE + 200 * (PRICE + 100)) // 1_200
    assert star.bars(0)[:, 5].sum() == 1_200


def test_cancel_releases_the_reservation(star):
    t = at(star, "09:31")
    send(star, order(0, 0, BUY, PRICE, 500, 7, t))
    assert star.account(0)["reserved"] > 500 * PRICE
    events = send(star, cancel(0, 7, t + 1))
    assert kinds(events) == ["CANCELLED"]
    assert events[0]["client_order_id"] == 7
    assert star.account(0)["reserved"] == 0


def test_order_tables_reserved_for_a_day_do_not_grow_within_it():
    exchange = make_exchange(cash=10**9 * CNY)
    exchange.open_day(MONDAY)
    orders = 20_000  # more than the default capacity (2**14): without the reservation, growth
    exchange.reserve(0, orders=orders)
    tables = (exchange.state.ords, exchange.state.held, exchange.state.ht,
              *exchange.engine.arrays())  # fmt: skip
    t = at(exchange, "09:31")
    rows = [order(i % 2, 0, BUY, PRICE - 100 * (i % 50), 200, i + 1, t) for i in range(orders)]
    events = exchange.submit(batch(*rows))
    assert (events["kind"] == EventKind.ACCEPTED).sum() == orders  # all resting
    after = (exchange.state.ords, exchange.state.held, exchange.state.ht,
             *exchange.engine.arrays())  # fmt: skip
    assert [x is y for x, y in zip(tables, after, strict=True)] == [True] * len(tables)


def test_ioc_remainder_and_expiry_at_the_close_release_reservations(star):
    t = at(star, "09:31")
    send(star, order(1, 0, SELL, PRICE, 300, 1, t), order(2, 0, SELL, PRICE * 2, 300, 1, t))
    events = send(star, order(0, 0, BUY, PRICE, 500, 1, t + 1, tif=TimeInForce.IOC))
    assert kinds(events) == ["ACCEPTED", "TRADE", "CANCELLED"]
    assert star.account(0)["reserved"] == 0
    statements = star.end_of_day()
    assert all(s.reserved_cash == 0 for s in statements)
    assert star.account(2)["reserved_shares"] == {}


def test_pre_open_orders_are_held_and_enter_when_continuous_trading_starts(star):
    events = send(star, order(0, 0, BUY, PRICE, 500, 1, at(star, "09:26")))
    assert kinds(events[events["command"] >= 0]) == ["QUEUED"]
    assert star.book(0).bids == ()
    events = send(star, order(1, 0, SELL, PRICE, 200, 1, at(star, "09:31")))
    assert kinds(events)[-3:] == ["ACCEPTED", "ACCEPTED", "TRADE"]  # held order, then the sell
    assert star.engine.phase(0) == Phase.CONTINUOUS


def test_opening_call_uncrosses_at_9_25_and_sets_the_open(star):
    send(
        star,
        order(0, 0, BUY, PRICE + 200, 1_000, 1, at(star, "09:16")),
        order(1, 0, SELL, PRICE, 600, 1, at(star, "09:17")),
    )
    indicative = star.last_market_data[-1]
    assert indicative["kind"] == MarketDataKind.INDICATIVE and indicative["quantity"] == 600
    events = star.advance(at(star, "09:25"))
    assert kinds(events)[:2] == ["UNCROSSED", "TRADE"]
    assert star.day_stats(0).open == events[0]["price"]
    assert (events["command"] == -1).all()


def test_t_plus_1_settlement_and_statements(star):
    t = at(star, "09:31")
    send(star, order(1, 0, SELL, PRICE, 1_000, 1, t), order(0, 0, BUY, PRICE, 1_000, 1, t + 1))
    before = total_cash(star)
    statements = star.end_of_day()
    buyer = statements[0]
    assert buyer.positions == {"AAA": 11_000} and buyer.settled_positions == {"AAA": 10_000}
    assert buyer.bought == 1_000 * PRICE and buyer.fees > 0
    star.open_day(star.calendar.shift(MONDAY, 1))
    assert star.statement(0).settled_positions == {"AAA": 11_000}
    assert star.account(0)["settled_cash"] == star.account(0)["cash"]
    assert total_cash(star) == before


def test_the_close_is_the_closing_call_price_else_the_last_minute_vwap(star):
    exchange = star
    t = at(exchange, "10:00")
    send(
        exchange,
        order(1, 0, SELL, PRICE, 100_000, 1, t),
        order(0, 0, BUY, PRICE, 200, 1, t),
        order(1, 0, SELL, PRICE - 100, 200, 2, t + 1),
        order(2, 0, BUY, PRICE, 1_000, 1, at(exchange, "10:00:30")),
    )
    exchange.end_of_day()
    assert exchange.closes[0] == PRICE  # nothing crossed at 15:00: VWAP of the last minute


def test_a_board_refuses_listings_of_an_unregistered_mechanism(monkeypatch):
    monkeypatch.delitem(MECHANISMS, "negotiated")
    with pytest.raises(MechanismNotAvailable, match="not registered"):
        make_exchange("regional", listings=(Listing("AAA", "equity", PRICE),))


def test_market_order_in_continuous_trading_rests_its_remainder_at_the_last_fill(star):
    t = at(star, "09:31")
    send(star, order(1, 0, SELL, PRICE, 300, 1, t))
    events = send(star, order(0, 0, BUY, PRICE + 500, 500, 1, t + 1, order_type=OrderType.MARKET))
    assert kinds(events) == ["ACCEPTED", "TRADE", "REPLACED"]
    assert [(lv.price, lv.quantity) for lv in star.book(0).bids] == [(PRICE, 200)]
    assert events[-1]["kind"] == EventKind.REPLACED


def test_lifecycle_events_move_cash_from_the_issuer_and_create_shares():
    listings = (
        Listing("AAA", "equity", PRICE, issuer=3),
        Listing("BND", "convertible_bond", 100 * CNY, issuer=3, underlying="AAA"),
    )
    exchange = make_exchange("star", listings=listings)
    cash, shares = total_cash(exchange), exchange.state.pos[:, 0, 0].sum()
    coupon = Payment(MONDAY, "BND", "0", 10_000, 5_000 * CNY, "coupon")
    assert exchange.apply_lifecycle(coupon) == 0
    assert exchange.account(0)["cash"] == 1_005_000 * CNY
    assert exchange.account(3)["cash"] == 995_000 * CNY
    conversion = Conversion(MONDAY, "BND", "1", 100, 10 * PRICE, 1_000, 0, 0)
    assert exchange.apply_lifecycle(conversion) == 0
    assert exchange.account(1)["positions"] == {"AAA": 11_000, "BND": 9_900}
    assert exchange.apply_lifecycle(SharesDistributed(MONDAY, "AAA", "2", 500)) == 0
    assert total_cash(exchange) == cash
    assert exchange.state.pos[:, 0, 0].sum() == shares + 1_500  # issuance and conversion only
    too_many = Conversion(MONDAY, "BND", "1", 20_000, 10 * PRICE, 200_000, 0, 0)
    assert exchange.apply_lifecycle(too_many) == VenueReason.INSUFFICIENT_SHARES
