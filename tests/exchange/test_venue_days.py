"""Whole trading days: phases in the board's order, the round-trip rule and the holder cap."""

from __future__ import annotations

import pytest
from exchange_helpers import BUY, MONDAY, PRICE, SELL, at, make_exchange, send
from venue_helpers import CNY

from exchange.dtypes import MarketDataKind
from exchange.orders import order
from exchange.reasons import VenueReason as V
from exchange.rules.sessions import timeline
from exchange.venue.flows import open_exchange, synthetic_day
from matching_engine.dtypes import EventKind, Phase


def expected_status(exchange):
    """Return the status changes the board's timeline implies, in order."""
    spans = timeline(exchange.board, exchange.calendar, exchange.day)
    status, last = [], None
    for t in sorted({x for s in spans for x in (s.start, s.end)}):
        phase = next((s.phase for s in spans if s.start <= t < s.end), "closed")
        status.append((t, phase))
        last = phase
    assert last == "closed"
    return status


@pytest.mark.parametrize("board", ["star", "techboard-call"])
def test_a_synthetic_day_runs_its_phases_in_order_and_conserves(board):
    day = synthetic_day(board, 20_000, instruments=2, participants=40)
    exchange = open_exchange(day)
    expected = expected_status(exchange)
    cash = exchange.state.par[:, 0].sum()
    events = exchange.submit(day.batch)
    statements = exchange.end_of_day()
    assert exchange.status == expected
    assert (events["kind"] == EventKind.TRADE).sum() > 100
    assert exchange.state.par[:, 0].sum() + exchange.state.collected.sum() == cash
    assert all(s.reserved_cash == 0 for s in statements)
    phases = [
        int(r["side"])
        for r in exchange.last_market_data
        if r["kind"] == MarketDataKind.PHASE and r["instrument"] == 0
    ]
    assert phases[-1] == Phase.HALTED
    if board == "star":
        assert exchange.day_stats(0).trades > 0 and exchange.closes[0] > 0


@pytest.mark.parametrize("board", ["regional", "techboard", "techboard-mm"])
def test_boards_of_mechanisms_still_to_build_run_their_session(board):
    exchange = make_exchange(board, listings=())
    exchange.open_day(MONDAY)
    expected = expected_status(exchange)
    exchange.end_of_day()
    assert exchange.status == expected


def test_the_round_trip_rule_holds_five_trading_days_both_ways():
    exchange = make_exchange("techboard-call")
    day = MONDAY
    exchange.open_day(day)
    t = at(exchange, "09:21")
    send(exchange, order(0, 0, BUY, PRICE, 500, 1, t), order(1, 0, SELL, PRICE, 500, 1, t))
    exchange.end_of_day()  # uncrossed at 9:30: 0 bought, 1 sold
    assert exchange.account(0)["positions"] == {"AAA": 10_500}
    for days in range(1, 6):
        day = exchange.calendar.shift(day, 1)
        exchange.open_day(day)
        t = at(exchange, "09:21", day)
        events = send(
            exchange,
            order(0, 0, SELL, PRICE, 100, 10 + days, t),
            order(1, 0, BUY, PRICE, 100, 10 + days, t),
        )
        reasons = events[events["command"] >= 0]["reason"].tolist()
        if days < 5:
            assert reasons == [V.SALE_WITHIN_ROUND_TRIP_DAYS, V.BUY_WITHIN_ROUND_TRIP_DAYS]
        else:
            assert reasons == [0, 0]
        exchange.end_of_day()


def test_the_holder_cap_counts_every_holder_over_the_life_of_the_security(tmp_path):
    board = tmp_path / "capped.toml"
    board.write_text('extends = "techboard-call"\n[holder_cap]\nlimit = 3\n')
    exchange = make_exchange(str(board), kinds=("investor",) * 5, shares=0, cash=10**6 * CNY)
    assert exchange.issue(0, 0, 1_000) == 0
    exchange.open_day(MONDAY)
    t = at(exchange, "09:21")
    events = send(
        exchange,
        order(0, 0, SELL, PRICE, 1_000, 1, t),
        order(1, 0, BUY, PRICE, 500, 1, t),
        order(2, 0, BUY, PRICE, 500, 1, t),
        order(3, 0, BUY, PRICE, 500, 1, t),  # would be the 4th holder
    )
    assert events[-1]["reason"] == V.HOLDER_CAP_REACHED
    exchange.advance(at(exchange, "09:30"))
    assert exchange.holder_count(0) == 3
    assert exchange.account(0)["positions"] == {}  # the issuer-investor sold out: still counted
    t = at(exchange, "09:31")
    events = send(exchange, order(4, 0, BUY, PRICE, 100, 1, t))
    assert events[-1]["reason"] == V.HOLDER_CAP_REACHED
    assert exchange.issue(0, 4, 100) == V.HOLDER_CAP_REACHED
