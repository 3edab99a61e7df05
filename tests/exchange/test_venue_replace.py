"""Order replace through the venue: re-validation, reservations, priority, market data."""

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
    snapshot,
    total_cash,
)

from exchange.dtypes import MarketDataKind
from exchange.orders import order, replace
from exchange.reasons import VenueReason as V
from matching_engine.reasons import Reason as R

T = "09:31"


def test_quantity_down_at_the_same_price_keeps_priority_and_releases_shares(star):
    t = at(star, T)
    send(star, order(1, 0, SELL, PRICE, 500, 1, t), order(2, 0, SELL, PRICE, 500, 1, t))
    events = send(star, replace(1, 1, PRICE, 300, t + 1))
    assert kinds(events) == ["REPLACED"] and events[0]["leaves"] == 300
    assert events[0]["client_order_id"] == 1 and events[0]["book"] == 0
    assert star.account(1)["reserved_shares"] == {"AAA": 300}
    events = send(star, order(0, 0, BUY, PRICE, 300, 1, t + 2))
    assert events[1]["contra_owner"] == 1 and fills(events) == [(PRICE, 300)]
    assert star.account(1)["reserved_shares"] == {}


def test_quantity_up_goes_to_the_back_of_the_level(star):
    t = at(star, T)
    send(star, order(1, 0, SELL, PRICE, 500, 1, t), order(2, 0, SELL, PRICE, 500, 1, t))
    send(star, replace(1, 1, PRICE, 600, t + 1))
    events = send(star, order(0, 0, BUY, PRICE, 300, 1, t + 2))
    assert events[1]["contra_owner"] == 2


def test_a_price_change_can_trade_and_moves_the_levels(star):
    t = at(star, T)
    send(star, order(1, 0, SELL, PRICE, 200, 1, t), order(0, 0, BUY, PRICE - 100, 500, 1, t))
    events = send(star, replace(0, 1, PRICE, 500, t + 1))
    assert kinds(events) == ["REPLACED", "TRADE"] and fills(events) == [(PRICE, 200)]
    levels = star.last_market_data[star.last_market_data["kind"] == MarketDataKind.LEVEL]
    assert sorted((int(r["side"]), int(r["price"]), int(r["quantity"])) for r in levels) == [
        (BUY, PRICE - 100, 0),
        (BUY, PRICE, 300),
        (SELL, PRICE, 0),
    ]
    assert [(lv.price, lv.quantity) for lv in star.book(0).bids] == [(PRICE, 300)]


def test_the_cash_hold_becomes_that_of_the_new_terms(star):
    t = at(star, T)
    send(star, order(0, 0, BUY, PRICE, 500, 1, t), order(2, 0, BUY, PRICE + 100, 1_000, 1, t))
    fresh = star.account(2)["reserved"]
    send(star, replace(0, 1, PRICE + 100, 1_000, t + 1))
    assert star.account(0)["reserved"] == fresh
    send(star, replace(0, 1, PRICE, 200, t + 2))
    send(star, order(3, 0, BUY, PRICE, 200, 1, t + 2))
    assert star.account(0)["reserved"] == star.account(3)["reserved"]


def test_a_partly_filled_order_replaced_settles_within_its_hold(star):
    t = at(star, T)
    cash = total_cash(star)
    send(star, order(1, 0, SELL, PRICE, 400, 1, t), order(0, 0, BUY, PRICE, 1_000, 1, t))
    send(star, replace(0, 1, PRICE + 100, 600, t + 1))
    events = send(star, order(2, 0, SELL, PRICE + 100, 600, 1, t + 2))
    assert fills(events) == [(PRICE + 100, 600)]
    assert star.account(0)["reserved"] == 0 and star.account(0)["positions"] == {"AAA": 11_000}
    assert total_cash(star) == cash


def resting(exchange, t):
    send(exchange, order(0, 0, BUY, PRICE, 500, 1, t), order(1, 0, SELL, PRICE + 100, 500, 1, t))


CASES = {
    "off tick": (0, PRICE + 1, 500, V.OFF_TICK),
    "outside the cage": (0, PRICE * 104 // 100, 500, V.PRICE_OUTSIDE_CAGE),
    "above the limit": (0, PRICE * 13 // 10, 500, V.PRICE_ABOVE_LIMIT),
    "below the lot": (0, PRICE, 100, V.QUANTITY_BELOW_MINIMUM),
    "above the maximum": (0, PRICE, 100_200, V.QUANTITY_ABOVE_MAXIMUM),
    "insufficient cash": (0, PRICE, 100_000, V.INSUFFICIENT_CASH),
    "insufficient shares": (1, PRICE + 100, 10_001, V.INSUFFICIENT_SHARES),
    "unknown order": (2, PRICE, 500, R.UNKNOWN_ORDER),
}


@pytest.mark.parametrize("name", CASES)
def test_a_refused_replace_leaves_the_state_unchanged(star, name):
    participant, price, quantity, reason = CASES[name]
    t = at(star, T)
    resting(star, t)
    before = snapshot(star)
    events = send(star, replace(participant, 1, price, quantity, t + 1))
    assert kinds(events) == ["REJECTED"] and events[0]["reason"] == reason
    assert snapshot(star) == before


def test_replaces_are_refused_where_cancels_are_and_in_a_halt(star):
    resting(star, at(star, T))
    events = send(star, replace(0, 1, PRICE, 300, at(star, "14:58")))
    assert events[events["command"] >= 0]["reason"].tolist() == [V.PHASE_REJECTS_CANCEL]
    exchange = make_exchange("star")
    exchange.open_day(MONDAY)
    resting(exchange, at(exchange, T))
    exchange.halt(0, at(exchange, "09:40"))
    events = send(exchange, replace(0, 1, PRICE, 300, at(exchange, "09:41")))
    assert events[0]["reason"] == V.INSTRUMENT_HALTED
