"""Market-maker obligations: a hand-built quote history by hand, exemptions, live reports."""

from __future__ import annotations

import datetime

import pytest
from exchange_helpers import BUY, MONDAY, PRICE, SELL, at, make_exchange, total_cash

from exchange.mechanisms.obligations import QuoteHistory, SizeBreach, SpreadBreach, assess
from exchange.orders import batch, order
from exchange.rules.boards import load_board
from exchange.venue.state import PAYEES
from matching_engine.dtypes import TimeInForce

RULES = load_board("techboard-mm").market_making
MIN = 60 * 10**9  # one minute in ns
T0 = 1_000 * MIN
SPANS = [(T0, T0 + 30 * MIN), (T0 + 60 * MIN, T0 + 80 * MIN)]  # 50 minutes, a 30-minute break
TICK, SHARES, BID = 100, 100_000, 100_000  # price units; shares outstanding; CNY 10.00


def history(*rows: tuple[int, int, int, int, int, int]) -> QuoteHistory:
    """Build a history from (minute, bid, bid size, ask, ask size, inventory) rows."""
    return QuoteHistory.from_rows([(T0 + m * MIN, *rest) for m, *rest in rows])


def one_sided_day(inventory: int, side: str, streaks=(0, 0)):
    """Quote one side all session (the other side empty) with a fixed inventory."""
    bid, ask = (2_000, 0) if side == "bid" else (0, 2_000)
    rows = history((0, BID, bid, BID + 2_000, ask, inventory), (80, 0, 0, 0, 0, inventory))
    return assess(rows, SPANS, RULES, TICK, SHARES, streaks)


def test_a_hand_built_day_two_sided_80_percent_one_late_requote_one_wide_quote():
    # minute: bid, size, ask, size, inventory. Spread 2% (2,000 units) is within 5%; 8% is not.
    rows = history(
        (0, BID, 2_000, 102_000, 2_000, 5_000),
        (10, BID, 2_000, 108_000, 2_000, 5_000),  # 8% wide for 5 minutes
        (15, BID, 2_000, 102_000, 2_000, 5_000),
        (27, BID, 2_000, 102_000, 0, 3_000),  # ask hit out: 3 min before the break, 3 after
        (63, BID, 2_000, 102_000, 2_000, 3_000),  # re-quoted after 6 market-making minutes
        (70, BID, 0, 102_000, 2_000, 5_000),  # bid hit out for 4 minutes
        (74, BID, 2_000, 102_000, 2_000, 5_000),
        (80, 0, 0, 0, 0, 5_000),  # the close removes the quotes
    )
    report = assess(rows, SPANS, RULES, TICK, SHARES)
    # 50 minutes of market making; one-sided 27-30, 60-63 and 70-74: 10 minutes; 40 two-sided
    assert report.market_making == 50 * MIN
    assert report.two_sided == 40 * MIN and report.two_sided_share == pytest.approx(0.80)
    # two-sided within the spread: 40 minutes less the 5 wide ones = 35 (70% of 50)
    assert report.spread_within == 35 * MIN and report.spread_share == pytest.approx(0.70)
    assert report.spread_breaches == (SpreadBreach(T0 + 10 * MIN, T0 + 15 * MIN, BID, 108_000,
                                                   5 * MIN),)  # fmt: skip
    assert report.size_breaches == (
        SizeBreach("ask", T0 + 27 * MIN, T0 + 63 * MIN, 6 * MIN, False),
        SizeBreach("bid", T0 + 70 * MIN, T0 + 74 * MIN, 4 * MIN, True),
    )
    assert report.first_quote == report.latest_start == T0
    assert report.obligations == {"two_sided": True, "spread": False, "size": False, "start": True}
    assert not report.passed
    assert report.reasons == (
        "1 quote(s) wider than 5% or 2 ticks",
        "1 side(s) below 1000 shares not re-quoted within 300 s",
    )


def test_two_ticks_allow_a_wider_spread_than_5_percent_on_a_low_price():
    low = 2_000  # CNY 0.20: 5% is 100 units, 2 ticks are 200
    rows = history((0, low, 2_000, low + 200, 2_000, 5_000), (80, 0, 0, 0, 0, 5_000))
    assert assess(rows, SPANS, RULES, TICK, SHARES).obligations["spread"]
    rows = history((0, low, 2_000, low + 300, 2_000, 5_000), (80, 0, 0, 0, 0, 5_000))
    assert not assess(rows, SPANS, RULES, TICK, SHARES).obligations["spread"]


def test_two_sided_below_75_percent_fails():
    rows = history((0, BID, 2_000, 102_000, 2_000, 5_000), (37, BID, 2_000, 102_000, 0, 5_000),
                   (80, 0, 0, 0, 0, 5_000))  # fmt: skip
    report = assess(rows, SPANS, RULES, TICK, SHARES)
    assert report.two_sided == 30 * MIN  # 60% of 50 minutes
    assert not report.obligations["two_sided"]
    assert report.reasons[0] == "two-sided 60.0% of market-making time, below 75%"


def test_inventory_under_1000_shares_exempts_the_ask():
    report = one_sided_day(999, "bid")
    assert report.passed and report.two_sided_share == 1.0
    assert report.exempt == {"bid": 0, "ask": 50 * MIN}
    assert report.exempt_days == {"bid": 0, "ask": 1}
    assert not one_sided_day(1_000, "bid").passed


def test_inventory_of_20_percent_of_the_shares_exempts_the_bid():
    report = one_sided_day(20_000, "ask")
    assert report.passed and report.exempt == {"bid": 50 * MIN, "ask": 0}
    assert not one_sided_day(19_999, "ask").passed


def test_an_exemption_lasts_3_trading_days_then_quoting_must_resume():
    assert one_sided_day(500, "bid", streaks=(0, 2)).exempt_days["ask"] == 3
    late = one_sided_day(500, "bid", streaks=(0, 3))
    assert late.exempt == {"bid": 0, "ask": 0} and late.exempt_days["ask"] == 4
    # one side only and no exemption: never quoted, so no size breach but no start either
    assert late.obligations == {"two_sided": False, "spread": True, "size": True, "start": False}
    assert late.reasons[0] == "ask exemption used beyond 3 trading days"
    rows = history((0, BID, 2_000, 102_000, 2_000, 5_000), (80, 0, 0, 0, 0, 5_000))
    resumed = assess(rows, SPANS, RULES, TICK, SHARES, streaks=(0, 3))
    assert resumed.passed and resumed.exempt_days == {"bid": 0, "ask": 0}


def test_the_first_quote_must_come_by_the_start_of_market_making():
    rows = history((1, BID, 2_000, 102_000, 2_000, 5_000), (80, 0, 0, 0, 0, 5_000))
    report = assess(rows, SPANS, RULES, TICK, SHARES)
    assert report.first_quote == T0 + MIN and report.two_sided == 49 * MIN
    assert report.obligations["start"] is False
    assert report.reasons == ("first quote after the latest start",)
    silent = assess(QuoteHistory.from_rows([]), SPANS, RULES, TICK, SHARES)
    assert silent.first_quote is None and silent.two_sided == 0
    assert "no quote" in silent.reasons


def test_the_exchange_reports_each_maker_at_the_close_and_pays_rebates_only_to_those_who_pass():
    exchange = make_exchange("techboard-mm", kinds=("market_maker",) * 2 + ("investor",) * 2)
    exchange.open_day(MONDAY)
    (desk,) = exchange.desks
    cash, t = total_cash(exchange), at(exchange, "09:30")
    ioc = TimeInForce.IOC
    exchange.submit(desk.quote(0, 0, PRICE - 100, 1_000, PRICE + 100, 1_000, 1, t))
    exchange.submit(batch(order(2, 0, BUY, PRICE + 100, 400, 1, t + 1, tif=ioc)))  # ask: 600
    exchange.submit(desk.quote(0, 0, PRICE - 100, 1_000, PRICE + 100, 1_000, 3, t + MIN))
    late = at(exchange, "09:31")
    exchange.submit(desk.quote(1, 0, PRICE, 1_000, PRICE + 200, 1_000, 1, late))
    exchange.submit(batch(order(3, 0, SELL, PRICE, 300, 1, late + 1, tif=ioc)))  # maker 1's bid
    exchange.end_of_day()
    first, second = exchange.obligation_reports(MONDAY)
    assert (first.maker, second.maker) == (0, 1)
    assert first.passed and first.two_sided_share == 1.0
    assert first.size_breaches == (SizeBreach("ask", t + 1, t + MIN, MIN - 1, True),)
    # the 0.0005% maker rebate, rounded to the fen: 40,040,000 and 30,000,000 units of notional
    assert (first.rebate, first.rebate_kept) == (200, True)
    assert second.obligations == {"two_sided": True, "spread": True, "size": False, "start": False}
    assert (second.rebate, second.rebate_kept) == (200, False)
    assert exchange.state.collected[PAYEES.index("rebate_pool")] == -200  # maker 1's reclaimed
    assert total_cash(exchange) == cash
    assert exchange.obligation_reports(MONDAY - datetime.timedelta(days=3)) == []


def test_the_limits_themselves_pass_75_percent_and_a_5_minute_requote():
    rows = QuoteHistory.from_rows([
        (T0, BID, 2_000, 102_000, 2_000, 5_000),
        (T0 + 25 * MIN, BID, 2_000, 102_000, 999, 5_000),
        (T0 + 30 * MIN, BID, 2_000, 102_000, 2_000, 5_000),  # 5 minutes under 1,000 shares
        (T0 + 67 * MIN + 30 * 10**9, BID, 2_000, 102_000, 0, 5_000),  # 75%: 37.5 of 50 minutes
        (T0 + 80 * MIN, 0, 0, 0, 0, 5_000),
    ])  # fmt: skip
    report = assess(rows, SPANS, RULES, TICK, SHARES)
    assert report.size_breaches[0] == SizeBreach("ask", T0 + 25 * MIN, T0 + 30 * MIN, 5 * MIN, True)
    assert report.obligations["two_sided"]
