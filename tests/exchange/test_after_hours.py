"""After-hours fixed-price trading on `star`: orders entered 9:30-11:30 and 13:00-15:30, traded
15:05-15:30 at the day's close in time priority, the rest expired at 15:30 (DOMAIN.md 2)."""

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
    total_shares,
)
from venue_helpers import CNY

from exchange.dtypes import FIXED_PRICE, MarketDataKind
from exchange.orders import cancel, order, replace
from exchange.reasons import VenueReason as V
from exchange.venue import kernel as k
from exchange.venue.exchange import Exchange, Listing
from matching_engine.dtypes import EventKind, TimeInForce
from matching_engine.reasons import Reason as R

TICK = 100


def fixed(participant, side, price, quantity, coid, t, instrument=0, tif=TimeInForce.DAY):
    """Return a fixed-price order row."""
    return order(participant, instrument, side, price, quantity, coid, t, FIXED_PRICE, tif)


def answers(events):
    """Return the events that answer commands (no session events)."""
    return events[events["command"] >= 0]


def close_at_price(exchange):
    """Open Monday and trade 200 at PRICE at 10:00, so the day closes at PRICE."""
    exchange.open_day(MONDAY)
    t = at(exchange, "10:00")
    send(exchange, order(0, 0, SELL, PRICE, 200, 900, t), order(1, 0, BUY, PRICE, 200, 900, t))


def trades(events):
    """Return (buyer, buyer's coid, seller, seller's coid, price, quantity) of each TRADE."""
    rows = events[events["kind"] == EventKind.TRADE]
    return [
        (int(e["owner"]), int(e["client_order_id"]), int(e["contra_owner"]),
         int(e["contra_client_order_id"]), int(e["price"]), int(e["quantity"]))
        for e in rows
    ]  # fmt: skip


def run_day(exchange):
    """Run a star day with fixed-price orders on both sides; return the events by step."""
    close_at_price(exchange)
    steps = {}
    steps["entry"] = send(
        exchange,
        fixed(2, BUY, PRICE + 50 * TICK, 1_000, 1, at(exchange, "10:01")),
        fixed(3, SELL, PRICE - 50 * TICK, 600, 1, at(exchange, "10:02")),
    )
    steps["afternoon"] = send(exchange, fixed(0, SELL, PRICE, 600, 2, at(exchange, "13:30")))
    steps["15:05"] = exchange.advance(at(exchange, "15:05"))
    steps["15:10"] = send(exchange, fixed(1, BUY, PRICE, 300, 2, at(exchange, "15:10")))
    exchange.end_of_day()
    steps["15:30"] = exchange.last_events
    return steps


def test_a_star_day_trades_fixed_price_orders_at_the_close_in_time_priority():
    exchange = make_exchange()
    steps = run_day(exchange)
    assert kinds(answers(steps["entry"])) == ["QUEUED", "QUEUED"]
    assert kinds(answers(steps["afternoon"])) == ["QUEUED"]
    assert exchange.closes[0] == PRICE
    # 15:05: the earliest buy takes the earliest sale, then the next sale, at the close
    assert trades(steps["15:05"]) == [(2, 1, 3, 1, PRICE, 600), (2, 1, 0, 2, PRICE, 400)]
    # after an after-hours batch: the new buy trades with what is left at once
    assert trades(steps["15:10"]) == [(1, 2, 0, 2, PRICE, 200)]
    after = steps["15:05"][steps["15:05"]["kind"] == EventKind.TRADE]
    assert (after["command"] == -1).all() and (after["fee"] > 0).all()
    # the day's statistics, bars and close count the continuous trade only
    stats = exchange.day_stats(0)
    assert (stats.trades, stats.volume, stats.last) == (1, 200, PRICE)
    assert exchange.bars(0)[:, 1 + k.B_VOLUME].tolist() == [200]
    assert exchange.account(2)["positions"] == {"AAA": 11_000}
    assert exchange.account(3)["positions"] == {"AAA": 9_400}


def test_fixed_price_trades_are_their_own_prints():
    exchange = make_exchange()
    close_at_price(exchange)
    t = at(exchange, "15:10")
    send(exchange, fixed(2, BUY, PRICE, 300, 1, t), fixed(3, SELL, PRICE, 300, 1, t))
    data = exchange.last_market_data
    prints = data[data["kind"] == MarketDataKind.FIXED_TRADE]
    assert prints[["price", "quantity"]].tolist() == [(PRICE, 300)]
    assert not (data["kind"] == MarketDataKind.TRADE).any()


def test_orders_on_the_wrong_side_of_the_close_are_refused():
    exchange = make_exchange()
    close_at_price(exchange)
    t = at(exchange, "10:05")
    send(
        exchange,
        fixed(2, BUY, PRICE - TICK, 300, 1, t),  # a buy below the close
        fixed(3, SELL, PRICE + TICK, 300, 1, t),  # a sale above it
    )
    events = exchange.advance(at(exchange, "15:05"))
    refused = events[events["kind"] == EventKind.REJECTED]
    assert refused["reason"].tolist() == [V.PRICE_WRONG_SIDE_OF_CLOSE] * 2
    assert fills(events) == []
    assert exchange.account(2)["reserved"] == 0 and exchange.account(3)["reserved_shares"] == {}
    # once the close is known, at entry: nothing changes
    before = snapshot(exchange)
    t = at(exchange, "15:06")
    events = send(exchange, fixed(2, BUY, PRICE - TICK, 300, 2, t))
    assert events["reason"].tolist() == [V.PRICE_WRONG_SIDE_OF_CLOSE]
    assert snapshot(exchange) == before


@pytest.mark.parametrize(
    ("quantity", "reason"),
    [
        (199, V.QUANTITY_BELOW_MINIMUM),
        (200, 0),
        (150_000, 0),  # above the limit-order maximum, within the fixed-price one
        (1_000_000, 0),
        (1_000_001, V.QUANTITY_ABOVE_MAXIMUM),
    ],
)
def test_fixed_price_order_size_limits(quantity, reason):
    exchange = make_exchange(cash=20_000_000 * CNY)
    exchange.open_day(MONDAY)
    events = send(exchange, fixed(0, BUY, PRICE, quantity, 1, at(exchange, "10:00")))
    assert answers(events)["reason"].tolist() == [reason]


@pytest.mark.parametrize(
    ("time", "reason"),
    [
        ("09:16", V.PHASE_REJECTS_ORDER_TYPE),  # opening call
        ("09:27", V.PHASE_REJECTS_ORDER_TYPE),  # pre-open
        ("09:30", 0),
        ("11:29", 0),
        ("12:00", V.PHASE_REJECTS_ORDER_TYPE),  # lunch break
        ("13:00", 0),
        ("14:58", 0),  # closing call
        ("15:02", 0),  # the close is known, matching starts at 15:05
        ("15:29", 0),
        ("15:30", V.MARKET_CLOSED),
    ],
)
def test_fixed_price_orders_are_accepted_only_in_their_windows(time, reason):
    exchange = make_exchange()
    exchange.open_day(MONDAY)
    events = send(exchange, fixed(0, BUY, PRICE, 200, 1, at(exchange, time)))
    assert answers(events)["reason"].tolist() == [reason]


def test_the_unmatched_remainder_expires_at_1530_with_its_holds_released():
    exchange = make_exchange()
    close_at_price(exchange)
    t = at(exchange, "11:00")
    send(exchange, fixed(2, BUY, PRICE, 500, 1, t), fixed(3, SELL, PRICE, 300, 1, t))
    exchange.advance(at(exchange, "15:29"))
    assert exchange.account(2)["reserved"] > 0
    events = exchange.advance(at(exchange, "15:30"))
    expired = events[events["kind"] == EventKind.EXPIRED]
    assert expired[["owner", "quantity", "reason"]].tolist() == [(2, 200, R.SESSION_END)]
    for p in range(4):
        account = exchange.account(p)
        assert account["reserved"] == 0 and account["reserved_shares"] == {}


def test_a_halted_instrument_does_not_trade_after_hours():
    exchange = make_exchange()
    close_at_price(exchange)
    t = at(exchange, "11:00")
    send(exchange, fixed(2, BUY, PRICE, 300, 1, t), fixed(3, SELL, PRICE, 300, 1, t))
    exchange.halt(0, at(exchange, "15:01"))
    assert fills(exchange.advance(at(exchange, "15:20"))) == []
    exchange.end_of_day()
    assert kinds(exchange.last_events[exchange.last_events["owner"] >= 2]) == ["EXPIRED"] * 2


def test_a_fixed_price_order_can_be_cancelled_not_replaced():
    exchange = make_exchange()
    exchange.open_day(MONDAY)
    t = at(exchange, "10:00")
    send(exchange, fixed(2, BUY, PRICE, 500, 1, t))
    events = answers(send(exchange, replace(2, 1, PRICE, 300, t), cancel(2, 1, t)))
    assert kinds(events) == ["REJECTED", "CANCELLED"]
    assert events["reason"].tolist() == [V.PHASE_REJECTS_ORDER_TYPE, R.CANCELLED_BY_OWNER]
    assert exchange.account(2)["reserved"] == 0
    send(exchange, fixed(3, SELL, PRICE, 500, 1, t))
    assert fills(exchange.advance(at(exchange, "15:05"))) == []


def test_after_hours_conserves_cash_plus_fees_and_shares():
    exchange = make_exchange()
    cash, shares = total_cash(exchange), total_shares(exchange)
    run_day(exchange)
    assert sum(exchange.fees_collected().values()) > 0
    assert total_cash(exchange) == cash
    assert total_shares(exchange) == shares


def test_journal_replay_equals_the_live_state(tmp_path):
    path = tmp_path / "day.tbj"
    exchange = make_exchange(journal=path, fsync=False)
    close_at_price(exchange)
    send(exchange, fixed(2, BUY, PRICE, 1_000, 1, at(exchange, "10:01")))
    send(exchange, fixed(3, SELL, PRICE, 400, 1, at(exchange, "15:10")))
    replayed = Exchange.replay(path)
    assert replayed.digest() == exchange.digest()
    for venue in (exchange, replayed):  # the order still awaiting the close trades in both
        send(venue, fixed(0, SELL, PRICE, 300, 1, at(exchange, "15:20")))
        venue.end_of_day()
    assert replayed.digest() == exchange.digest()
    assert exchange.account(2)["positions"] == {"AAA": 10_700}


@pytest.mark.parametrize(
    ("board", "listing", "time", "reason"),
    [
        ("techboard-call", Listing("AAA", "equity", PRICE), "09:21", R.INVALID_ORDER_TYPE),
        ("star", Listing("BND", "convertible_bond", 1_000_000), "10:00", R.INVALID_ORDER_TYPE),
    ],
)
def test_instruments_without_fixed_price_trading_refuse_the_order(board, listing, time, reason):
    exchange = make_exchange(board, listings=(listing,))
    exchange.open_day(MONDAY)
    exchange.advance(at(exchange, time))
    before = snapshot(exchange)
    events = send(exchange, fixed(0, BUY, listing.previous_close, 200, 1, at(exchange, time)))
    assert answers(events)["reason"].tolist() == [reason]
    assert snapshot(exchange) == before


def test_a_fixed_price_order_must_be_a_day_order():
    exchange = make_exchange()
    exchange.open_day(MONDAY)
    t = at(exchange, "10:00")
    events = send(exchange, fixed(0, BUY, PRICE, 200, 1, t, tif=TimeInForce.IOC))
    assert answers(events)["reason"].tolist() == [R.INVALID_TIME_IN_FORCE]
