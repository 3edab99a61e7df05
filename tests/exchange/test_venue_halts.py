"""Volatility halts fed from the venue's trades: halted books, status events, resumption."""

from __future__ import annotations

import numpy as np
import pytest
from exchange_helpers import BUY, MONDAY, PRICE, SELL, at, kinds, make_exchange, send

from exchange.dtypes import MarketDataKind
from exchange.orders import cancel, order
from exchange.reasons import VenueReason
from exchange.venue.exchange import Exchange, Listing
from matching_engine.dtypes import EventKind, Phase

MINUTE = 60 * 10**9
UP_30 = PRICE * 13 // 10
NEW_LISTING = (Listing("AAA", "equity", PRICE, listed=MONDAY),)


def first_day(**options: object) -> Exchange:
    """Return a star Exchange on the listing day of AAA (first-5-day halts armed)."""
    exchange = make_exchange("star", listings=NEW_LISTING, **options)
    exchange.open_day(MONDAY)
    return exchange


def trade(exchange: Exchange, price: int, t: int, cid: int) -> np.ndarray:
    """Cross 200 shares at price at time t (seller 1, buyer 0); the side resting first is the
    one the price cage lets through (a sale above the last price, a bid below it)."""
    sell, buy = order(1, 0, SELL, price, 200, cid, t), order(0, 0, BUY, price, 200, cid, t)
    down = price < exchange.day_stats(0).last
    return send(exchange, *((buy, sell) if down else (sell, buy)))


def opened(time: str = "09:31") -> tuple[Exchange, int]:
    exchange = first_day()
    t = at(exchange, time)
    trade(exchange, PRICE, t, 1)  # the open: PRICE
    return exchange, t


def test_a_trade_30_percent_above_the_open_halts_the_book_ten_minutes():
    exchange, t = opened()
    events = trade(exchange, UP_30, t + 1, 2)
    assert kinds(events) == ["ACCEPTED", "ACCEPTED", "TRADE", "PHASE"]
    assert events[-1]["phase"] == Phase.HALTED and events[-1]["command"] == -1
    status = exchange.last_market_data[-1]
    assert (status["kind"], status["side"]) == (MarketDataKind.PHASE, Phase.HALTED)
    assert exchange.engine.phase(0) == Phase.HALTED
    halt = exchange.halts.halted(0, t + 1)
    assert (halt.start, halt.end, halt.cause) == (
        t + 1,
        t + 1 + 10 * MINUTE,
        "volatility: up 30% from open",
    )


def test_a_halted_book_takes_cancels_only_and_resumes_by_a_call_auction():
    exchange, t = opened()
    send(exchange, order(2, 0, BUY, PRICE, 200, 1, t))
    trade(exchange, UP_30, t + 1, 2)
    refused = send(exchange, order(3, 0, BUY, UP_30, 200, 1, t + MINUTE))
    assert refused[0]["reason"] == VenueReason.INSTRUMENT_HALTED
    assert kinds(send(exchange, cancel(2, 1, t + MINUTE))) == ["CANCELLED"]
    events = exchange.advance(t + 1 + 10 * MINUTE)
    assert kinds(events) == ["UNCROSSED", "PHASE"]
    assert events[-1]["phase"] == Phase.CONTINUOUS
    assert exchange.halts.halted(0, t + 1 + 10 * MINUTE) is None
    assert kinds(send(exchange, order(3, 0, BUY, UP_30, 200, 1, t + 11 * MINUTE))) == ["ACCEPTED"]


def test_the_kernel_stops_at_the_halt_so_later_commands_of_the_batch_are_refused():
    exchange, t = opened()
    events = send(
        exchange,
        order(1, 0, SELL, UP_30, 400, 2, t + 1),
        order(0, 0, BUY, UP_30, 200, 2, t + 1),
        order(2, 0, BUY, UP_30, 200, 1, t + 2),
        order(2, 0, BUY, UP_30, 200, 2, t + 11 * MINUTE),
    )
    venue = events[events["command"] >= 0]
    assert venue["reason"][venue["command"] == 2].tolist() == [VenueReason.INSTRUMENT_HALTED]
    assert fills_of(events, 3) == [(UP_30, 200)]  # after the resumption


def fills_of(events, command: int) -> list[tuple[int, int]]:
    rows = events[(events["command"] == command) & (events["kind"] == EventKind.TRADE)]
    return list(zip(rows["price"].tolist(), rows["quantity"].tolist(), strict=True))


def test_each_rule_halts_once_per_direction_and_the_60_percent_rule_halts_again():
    exchange, t = opened()
    trade(exchange, UP_30, t + 1, 2)
    later = t + 11 * MINUTE
    assert kinds(trade(exchange, UP_30 + 100, later, 3))[-1] == "TRADE"  # 30% spent upward
    assert kinds(trade(exchange, PRICE * 16 // 10, later + 1, 4))[-1] == "PHASE"
    down = trade(exchange, PRICE * 7 // 10, later + 11 * MINUTE, 5)
    assert kinds(down)[-1] == "PHASE"
    assert [h.cause for h in exchange.halts.history(0)] == [
        "volatility: up 30% from open",
        "volatility: up 60% from open",
        "volatility: down 30% from open",
    ]


def test_a_halt_crossing_14_57_ends_at_14_57_in_the_closing_call():
    exchange, t = opened("14:50")
    trade(exchange, UP_30, t + 1, 2)
    events = exchange.advance(at(exchange, "14:58"))
    assert kinds(events) == ["PHASE"] and events[0]["phase"] == Phase.CALL
    assert exchange.halts.history(0)[0].end == at(exchange, "14:57")


def test_no_volatility_halts_after_the_first_five_days_or_for_old_listings(star):
    exchange = star  # listed long ago
    t = at(exchange, "09:31")
    trade(exchange, PRICE, t, 1)
    assert kinds(trade(exchange, PRICE * 118 // 100, t + 1, 2))[-1] == "TRADE"  # +-20% limit
    assert exchange.engine.phase(0) == Phase.CONTINUOUS


def test_a_convertible_bond_halts_on_its_listing_day_from_the_previous_close():
    bond = Listing("BND", "convertible_bond", 100 * 10_000, listed=MONDAY)
    exchange = make_exchange("star", listings=(bond,))
    exchange.open_day(MONDAY)
    t = at(exchange, "09:31")
    price = 120 * 10_000
    events = send(exchange, order(1, 0, SELL, price, 10, 1, t), order(0, 0, BUY, price, 10, 1, t))
    assert kinds(events)[-1] == "PHASE"
    assert exchange.halts.halted(0, t).end == t + 30 * MINUTE


@pytest.mark.parametrize("resume", [False, True])
def test_a_manual_halt_outlasts_a_volatility_halt(resume):
    exchange, t = opened()
    trade(exchange, UP_30, t + 1, 2)
    exchange.halt(0, t + 2)
    exchange.advance(t + 11 * MINUTE)
    assert exchange.engine.phase(0) == Phase.HALTED
    if resume:
        exchange.resume(0, t + 12 * MINUTE)
        assert exchange.engine.phase(0) == Phase.CONTINUOUS


def test_replay_reproduces_a_day_with_volatility_halts(tmp_path):
    path = tmp_path / "halts.tbj"
    exchange = first_day(journal=path, fsync=False)
    t = at(exchange, "09:31")
    trade(exchange, PRICE, t, 1)
    trade(exchange, UP_30, t + 1, 2)
    trade(exchange, UP_30, t + 11 * MINUTE, 3)
    exchange.end_of_day()
    assert Exchange.replay(path).digest() == exchange.digest()
