"""Each metric on a hand-computed case (numbers worked out in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from synthetic_records import synthetic_records

from simulation.records import (
    DAILY_RECORD_DTYPE,
    FUNDAMENTAL_RECORD_DTYPE,
    OBLIGATION_RECORD_DTYPE,
    QUOTE_RECORD_DTYPE,
    TRADE_RECORD_DTYPE,
)
from studies.metrics import RUN_ROW, instrument_metrics, run_metrics

S = 1_000_000_000
T0 = 1_767_225_600 * S + 5_400 * S


def table(dtype, rows: list[dict]) -> np.ndarray:
    out = np.zeros(len(rows), dtype)
    for k, row in enumerate(rows):
        for name, value in row.items():
            out[name][k] = value
    return out


@pytest.fixture
def hand():
    """Three quotes (0 s, 10 s, 30 s) and two trades (a buy at 5 s, a sell at 15 s)."""
    records = synthetic_records(0, days=1, trades_per_day=1)
    records.quotes = table(
        QUOTE_RECORD_DTYPE,
        [
            dict(timestamp=T0, bid=9900, ask=10100, bid_quantity=100, ask_quantity=200),
            dict(timestamp=T0 + 10 * S, bid=9950, ask=10050, bid_quantity=300, ask_quantity=300),
            dict(timestamp=T0 + 30 * S, bid=10000, ask=10200, bid_quantity=1, ask_quantity=1),
        ],
    )
    records.trades = table(
        TRADE_RECORD_DTYPE,
        [
            dict(
                timestamp=T0 + 5 * S,
                price=10100,
                quantity=100,
                aggressor=0,
                mid_before=10000,
                buyer_class=0,
                seller_class=2,
                buyer_fee=10,
                seller_fee=20,
            ),
            dict(
                timestamp=T0 + 15 * S,
                price=9950,
                quantity=200,
                aggressor=1,
                mid_before=10000,
                buyer_class=2,
                seller_class=1,
                buyer_fee=30,
                seller_fee=40,
            ),
        ],
    )
    records.fundamental = table(
        FUNDAMENTAL_RECORD_DTYPE, [dict(timestamp=T0 + 10 * S, value=10100)]
    )
    records.daily = table(DAILY_RECORD_DTYPE, [dict(volume=300, free_float=3000)])
    records.obligations = table(
        OBLIGATION_RECORD_DTYPE,
        [dict(two_sided_share=0.8, passed=True), dict(day=1, two_sided_share=1.0, passed=False)],
    )
    return instrument_metrics(records, 0, interval_ns=10 * S, horizon_ns=20 * S)


def test_quoted_spread_plain_and_time_weighted(hand):
    # spreads 200, 100 and 200/10100 = 198.02 bp; they stand 10 s, 20 s and 0 s
    assert hand["quoted_spread_bp"] == pytest.approx((200 + 100 + 2e6 / 10100) / 3)
    assert hand["quoted_spread_tw_bp"] == pytest.approx((200 * 10 + 100 * 20) / 30)


def test_depth_at_the_best_is_time_weighted(hand):
    assert hand["depth_best"] == pytest.approx((300 * 10 + 600 * 20) / 30)


def test_effective_realised_and_impact_decompose(hand):
    # buy at 10100, mid 10000: effective 200; mid 20 s later (at 25 s) still 10000: impact 0.
    # sell at 9950, mid 10000: effective 100; the horizon stops at the day's last quote (30 s),
    # mid 10100: realised 2 * -1 * (9950 - 10100) / 10000 = 300, impact -200.
    assert hand["effective_spread_bp"] == pytest.approx(150)
    assert hand["realised_spread_bp"] == pytest.approx(250)
    assert hand["price_impact_bp"] == pytest.approx(-100)
    eff = hand["realised_spread_bp"] + hand["price_impact_bp"]
    assert eff == pytest.approx(hand["effective_spread_bp"])


def test_volume_turnover_and_trade_count(hand):
    assert hand["volume"] == 300
    assert hand["turnover_cny"] == pytest.approx((10100 * 100 + 9950 * 200) / 10_000)
    assert hand["trades"] == 2
    assert hand["turnover_rate"] == pytest.approx(0.1)


def test_interval_bars(hand):
    # 10 s bars with quotes: 0, 1 and 3; trades in bars 0 and 1; bar mids 10000, 10000, 10100
    assert hand["no_trade_share"] == pytest.approx(1 / 3)
    assert hand["volatility_bp"] == pytest.approx(math.log(1.01) / math.sqrt(2) * 1e4)
    # Amihud: the only return with turnover in its bar is 0 (bar 1)
    assert hand["amihud"] == 0


def test_efficiency_against_the_fundamental(hand):
    assert hand["efficiency_bp"] == pytest.approx(100 / 10100 * 1e4)


def test_market_maker_pnl_and_compliance(hand):
    # the maker sells 100 at 10100 (fee 20) and buys 200 at 9950 (fee 30): cash -980,050,
    # inventory +100 marked at the last price 9950: P&L 14,950 units = 1.495 CNY
    assert hand["mm_pnl_cny"] == pytest.approx(1.495)
    assert hand["mm_two_sided_share"] == pytest.approx(0.9)
    assert hand["mm_compliance"] == pytest.approx(0.5)


def test_fees_by_class_and_trading_cost(hand):
    assert hand["fees_noise_cny"] == pytest.approx(0.001)
    assert hand["fees_value_cny"] == pytest.approx(0.004)
    assert hand["fees_market_maker_cny"] == pytest.approx(0.005)
    assert hand["fees_cny"] == pytest.approx(0.01)
    assert hand["trading_cost_bp"] == pytest.approx(75 + 0.01 / 600 * 1e4)


def test_kyle_lambda_and_amihud_on_a_linear_market():
    """Bar returns are exactly 2 bp per CNY million of signed flow: lambda is 2."""
    records = synthetic_records(0, days=1, trades_per_day=1)
    flows = np.array([1.0, -2.0, 3.0, 0.5])  # CNY millions, signed
    mids = 10000 * np.exp(np.concatenate([[0.0], np.cumsum(2e-4 * flows)]))
    records.quotes = table(
        QUOTE_RECORD_DTYPE,
        [
            dict(timestamp=T0 + 10 * k * S, bid=round(m) - 50, ask=round(m) + 50)
            for k, m in enumerate(mids)
        ],
    )
    bid, ask = records.quotes["bid"], records.quotes["ask"]
    exact = np.log(((bid + ask) / 2)[1:] / ((bid + ask) / 2)[:-1])
    qty = np.abs(flows) * 1e6 * 10_000 / 10_000
    records.trades = table(
        TRADE_RECORD_DTYPE,
        [
            dict(
                timestamp=T0 + (10 * k + 15) * S,
                price=10_000,
                quantity=int(q),
                aggressor=0 if f > 0 else 1,
                mid_before=10_000,
            )
            for k, (q, f) in enumerate(zip(qty, flows, strict=True))
        ],
    )
    out = instrument_metrics(records, 0, interval_ns=10 * S)
    slope = np.polyfit(flows, exact * 1e4, 1)[0]
    assert out["kyle_lambda_bp"] == pytest.approx(slope)
    assert out["kyle_lambda_bp"] == pytest.approx(2.0, rel=1e-2)
    assert out["amihud"] == pytest.approx(np.mean(np.abs(exact) / np.abs(flows)))


def test_run_metrics_has_each_instrument_and_the_venue_row():
    out = run_metrics(synthetic_records(3))
    assert set(out) == {"SYN", RUN_ROW}
    assert out[RUN_ROW]["revenue_exchange_cny"] == pytest.approx(out["SYN"]["fees_cny"])


def test_without_quotes_volatility_and_efficiency_use_the_last_trade_price():
    """A bilateral market shows no bid or ask: the interval returns are of the last trade
    price. Trades at 100, 110, 99 in three 5-minute bars, none in the fourth: returns
    log(110/100), log(99/110), 0."""
    five = 300 * S
    quotes = np.zeros(4, QUOTE_RECORD_DTYPE)
    quotes["timestamp"] = T0 + np.arange(4) * five + five // 2
    trades = np.zeros(3, TRADE_RECORD_DTYPE)
    trades["timestamp"] = T0 + np.arange(3) * five + 1
    trades["quantity"] = 100
    trades["price"] = [1_000_000, 1_100_000, 990_000]
    trades["buyer"], trades["seller"] = 0, 1
    records = synthetic_records(0, days=1, trades_per_day=1)
    records.quotes, records.trades = quotes, trades
    out = instrument_metrics(records, 0)
    returns = np.log([1.1, 0.9, 1.0])
    assert out["volatility_bp"] == pytest.approx(returns.std(ddof=1) * 1e4)
    assert math.isnan(out["quoted_spread_bp"])
