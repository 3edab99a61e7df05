"""Liquidity metrics of one run, per instrument, from its trade and quote records (docs/metrics.md).

Vectorised numpy over the `simulation.records` tables; floats are fine here (analytics). Spreads
and impacts are relative to the midquote, in basis points; cash in CNY; intervals and horizons
in ns. Every definition cites its source in `METRICS` and in docs/metrics.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from matching_engine.dtypes import Side
from simulation.records import RunRecords

MINUTE_NS = 60 * 1_000_000_000
INTERVAL_NS = 5 * MINUTE_NS  # bars for volatility, Amihud, Kyle's lambda, no-trade share
HORIZON_NS = 5 * MINUTE_NS  # realised spread and price impact horizon
TRADING_DAYS_PER_YEAR = 250
CASH_UNIT = 10_000  # price units (and cash units) per CNY
Columns = dict[str, np.ndarray]  # one instrument's rows of a record table, by field
RUN_ROW = "(run)"  # the row of a run's venue-wide figures (fee revenue by payee, counts)


@dataclass(frozen=True)
class Metric:
    """A metric's name, unit, meaning and source."""

    name: str
    unit: str
    meaning: str
    source: str


METRICS: tuple[Metric, ...] = (
    Metric(
        "quoted_spread_bp",
        "bp",
        "mean of (ask - bid) / mid over two-sided quote samples",
        "Goyenko, Holden and Trzcinka (2009)",
    ),
    Metric(
        "quoted_spread_tw_bp",
        "bp",
        "the relative quoted spread weighted by how long each quote stood",
        "Goyenko, Holden and Trzcinka (2009); Nasdaq First North 7% rule",
    ),
    Metric(
        "effective_spread_bp",
        "bp",
        "2 D (p - m) / m per trade, D = +1 buyer- / -1 seller-initiated, m the mid before",
        "Huang and Stoll (1996); Goyenko, Holden and Trzcinka (2009)",
    ),
    Metric(
        "realised_spread_bp",
        "bp",
        "2 D (p - m_h) / m: what the liquidity supplier keeps after the horizon h",
        "Huang and Stoll (1996)",
    ),
    Metric(
        "price_impact_bp",
        "bp",
        "2 D (m_h - m) / m: the permanent move after a trade (effective = realised + impact)",
        "Huang and Stoll (1996); Hendershott, Jones and Menkveld (2011)",
    ),
    Metric(
        "depth_best",
        "shares",
        "time-weighted shares at the best bid plus the best ask",
        "Harris (1990)",
    ),
    Metric(
        "depth_1pct",
        "shares",
        "time-weighted shares bid and offered within 1% of the mid",
        "Harris (1990); Kyle (1985) depth",
    ),
    Metric(
        "depth_2pct",
        "shares",
        "time-weighted shares bid and offered within 2% of the mid",
        "Harris (1990)",
    ),
    Metric(
        "amihud",
        "per CNY m",
        "mean over intervals with trading of |return| / turnover in CNY millions",
        "Amihud (2002)",
    ),
    Metric(
        "kyle_lambda_bp",
        "bp per CNY m",
        "OLS slope of the interval mid return on signed turnover (CNY millions)",
        "Kyle (1985); Hasbrouck (2009)",
    ),
    Metric("volume", "shares", "shares traded", "—"),
    Metric("turnover_cny", "CNY", "value traded, sum of price x quantity", "—"),
    Metric(
        "turnover_rate",
        "per day",
        "mean daily volume over the free float held by investors at the close",
        "Datar, Naik and Radcliffe (1998)",
    ),
    Metric("trades", "count", "number of trades", "—"),
    Metric(
        "no_trade_share",
        "share",
        "share of intervals (with quotes) that saw no trade",
        "Lesmond, Ogden and Trzcinka (1999) zero-return days, on intraday bars",
    ),
    Metric(
        "volatility_bp",
        "bp",
        "standard deviation of interval log mid returns (last trade prices without quotes)",
        "Andersen and Bollerslev (1998) realised volatility",
    ),
    Metric(
        "volatility_annual",
        "share",
        "interval volatility scaled to a year of 250 trading days",
        "Andersen and Bollerslev (1998)",
    ),
    Metric(
        "efficiency_bp",
        "bp",
        "mean |mid - fundamental| / fundamental at the fundamental's samples (mid: as above)",
        "Theissen (2000); ABIDES price-efficiency checks",
    ),
    Metric(
        "mm_pnl_cny",
        "CNY",
        "market makers' trading P&L: cash from fills less fees, inventory marked at the last price",
        "Menkveld (2013)",
    ),
    Metric(
        "mm_two_sided_share",
        "share",
        "mean share of market-making time the designated makers quoted two-sided",
        "NEEQ market-maker rules (DOMAIN.md 3.5)",
    ),
    Metric(
        "mm_compliance",
        "share",
        "share of (maker, day) reports that met every obligation",
        "NEEQ market-maker rules (DOMAIN.md 3.5)",
    ),
    Metric(
        "fees_cny",
        "CNY",
        "fees paid by both sides of every trade (rebates negative)",
        "fee schedules (docs/fees.md)",
    ),
    Metric(
        "trading_cost_bp",
        "bp",
        "one-way cost of a trade: half the effective spread plus the fees per side over turnover",
        "Domowitz, Glen and Madhavan (2001)",
    ),
)


def _two_sided_mid(bid: np.ndarray, ask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the mid (NaN where the book is one-sided or crossed) and a validity mask."""
    ok = (bid > 0) & (ask > bid)
    mid = np.where(ok, (bid + ask) / 2.0, np.nan)
    return mid, ok


def _last_valid(ok: np.ndarray) -> np.ndarray:
    """Return, per row, the index of the latest row at or before it that is valid (-1: none)."""
    return np.maximum.accumulate(np.where(ok, np.arange(len(ok)), -1)) if len(ok) else ok


def _mid_at(times: np.ndarray, quote_ts: np.ndarray, mid: np.ndarray, last: Columns):
    """Return the latest valid mid at or before each time (NaN before any)."""
    k = np.searchsorted(quote_ts, times, side="right") - 1
    j = np.where(k >= 0, last[np.maximum(k, 0)], -1)
    return np.where(j >= 0, mid[np.maximum(j, 0)], np.nan)


def _nanmean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else math.nan


def _weighted(values: np.ndarray, weights: np.ndarray) -> float:
    ok = np.isfinite(values) & (weights > 0)
    total = weights[ok].sum()
    return float((values[ok] * weights[ok]).sum() / total) if total > 0 else math.nan


def last_trade_price(t: Columns, q: Columns) -> tuple[np.ndarray, np.ndarray]:
    """Return the last trade price at each quote sample (NaN before the first trade) and the
    index of the last valid one per sample: the price series of a market without quotes."""
    k = np.searchsorted(t["timestamp"], q["timestamp"], side="right") - 1
    price = np.where(k >= 0, t["price"][np.maximum(k, 0)], np.nan) if len(k) else k * 1.0
    price = price.astype(np.float64)
    return price, _last_valid(np.isfinite(price))


def _quote_metrics(q: Columns) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Return the quote-based metrics, the mids and the index of the last valid mid per sample."""
    bid = q["bid"].astype(np.float64)
    ask = q["ask"].astype(np.float64)
    mid, ok = _two_sided_mid(bid, ask)
    rel = (ask - bid) / mid * 1e4
    ts = q["timestamp"]
    stands = np.zeros(len(ts), dtype=np.float64)
    if len(ts) > 1:
        same_day = q["day"][1:] == q["day"][:-1]
        stands[:-1] = np.where(same_day, np.diff(ts), 0).astype(np.float64)
    depth = {
        "depth_best": q["bid_quantity"] + q["ask_quantity"],
        "depth_1pct": q["bid_depth_1pct"] + q["ask_depth_1pct"],
        "depth_2pct": q["bid_depth_2pct"] + q["ask_depth_2pct"],
    }
    out = {
        "quoted_spread_bp": _nanmean(rel),
        "quoted_spread_tw_bp": _weighted(rel, stands),
        **{name: _weighted(v.astype(np.float64), stands) for name, v in depth.items()},
    }
    return out, mid, _last_valid(ok)


def _interval_metrics(
    t: Columns, q: Columns, mid: np.ndarray, last: Columns, interval_ns: int
) -> dict[str, float]:
    """Return the metrics on interval bars: no-trade share, volatility, Amihud, Kyle's lambda."""
    nan = dict.fromkeys(
        ("no_trade_share", "volatility_bp", "volatility_annual", "amihud", "kyle_lambda_bp"),
        math.nan,
    )
    if len(q["timestamp"]) == 0:
        return nan
    qday = q["day"].astype(np.int64)
    days, first = np.unique(qday, return_index=True)
    origin = q["timestamp"][first]
    span = int((q["timestamp"].max() - origin.min()) // interval_ns) + 2
    # An interval is "open" when a quote was sampled in it; bars are keyed day * span + bar.
    qkey = qday * span + (q["timestamp"] - origin[np.searchsorted(days, qday)]) // interval_ns
    keys, last_in_bar = np.unique(qkey[::-1], return_index=True)
    last_in_bar = len(qkey) - 1 - last_in_bar
    bar_mid = np.where(last[last_in_bar] >= 0, mid[np.maximum(last[last_in_bar], 0)], np.nan)
    tday = t["day"].astype(np.int64)
    tpos = np.searchsorted(days, tday)
    known = (tpos < len(days)) & (days[np.minimum(tpos, len(days) - 1)] == tday)
    tkey = tday * span + (t["timestamp"] - origin[np.minimum(tpos, len(days) - 1)]) // interval_ns
    slot = np.searchsorted(keys, tkey)
    known &= (slot < len(keys)) & (keys[np.minimum(slot, len(keys) - 1)] == tkey)
    slot = slot[known]
    price = t["price"][known].astype(np.float64)
    qty = t["quantity"][known].astype(np.float64)
    sign = _direction(t["aggressor"][known])
    notional_m = price * qty / CASH_UNIT / 1e6
    count = np.bincount(slot, minlength=len(keys))
    turnover_m = np.bincount(slot, weights=notional_m, minlength=len(keys))
    flow_m = np.bincount(slot, weights=sign * notional_m, minlength=len(keys))
    same_day = keys[1:] // span == keys[:-1] // span
    ret = np.log(bar_mid[1:] / bar_mid[:-1])
    ok = same_day & np.isfinite(ret)
    r, turn, flow = ret[ok], turnover_m[1:][ok], flow_m[1:][ok]
    out = dict(nan)
    out["no_trade_share"] = float((count == 0).mean())
    if len(r) > 1:
        sd = float(r.std(ddof=1))
        out["volatility_bp"] = sd * 1e4
        bars_per_day = len(keys) / len(days)
        out["volatility_annual"] = sd * math.sqrt(bars_per_day * TRADING_DAYS_PER_YEAR)
    traded = turn > 0
    if traded.any():
        out["amihud"] = float((np.abs(r[traded]) / turn[traded]).mean())
    if len(r) > 2 and flow.var() > 0:
        out["kyle_lambda_bp"] = float(np.polyfit(flow, r * 1e4, 1)[0])
    return out


def _direction(aggressor: np.ndarray) -> np.ndarray:
    """Return +1 for a buyer-initiated trade, -1 for seller-initiated, 0 for an auction print."""
    return np.where(aggressor == Side.BUY, 1.0, np.where(aggressor == Side.SELL, -1.0, 0.0))


def _trade_metrics(
    t: Columns, q: Columns, mid: np.ndarray, last: Columns, horizon_ns: int
) -> dict[str, float]:
    """Return the spread decomposition, volume and turnover from the trades."""
    price = t["price"].astype(np.float64)
    m0 = t["mid_before"].astype(np.float64)
    sign = _direction(t["aggressor"])
    signed = (m0 > 0) & (sign != 0)
    target = t["timestamp"] + horizon_ns
    if len(q["timestamp"]):
        qday = q["day"]
        day_last = np.searchsorted(qday, t["day"], side="right") - 1
        cap = np.where(day_last >= 0, q["timestamp"][np.maximum(day_last, 0)], target)
        target = np.minimum(target, np.maximum(cap, t["timestamp"]))
        m_h = _mid_at(target, q["timestamp"], mid, last)
    else:
        m_h = np.full(len(target), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = np.where(signed, 2 * sign * (price - m0) / m0 * 1e4, np.nan)
        decomposed = signed & np.isfinite(m_h)
        real = np.where(decomposed, 2 * sign * (price - m_h) / m0 * 1e4, np.nan)
        impact = np.where(decomposed, 2 * sign * (m_h - m0) / m0 * 1e4, np.nan)
    notional = t["price"] * t["quantity"]
    return {
        "effective_spread_bp": _nanmean(eff),
        "realised_spread_bp": _nanmean(real),
        "price_impact_bp": _nanmean(impact),
        "volume": float(t["quantity"].sum()),
        "turnover_cny": float(notional.sum()) / CASH_UNIT,
        "trades": float(len(price)),
    }


def _maker_metrics(
    records: RunRecords, t: Columns, instrument: int, last_price: float
) -> dict[str, float]:
    """Return market makers' P&L from their fills and their obligation compliance."""
    out = dict.fromkeys(("mm_pnl_cny", "mm_two_sided_share", "mm_compliance"), math.nan)
    if "market_maker" in records.classes:
        mm = records.classes.index("market_maker")
        buys, sells = t["buyer_class"] == mm, t["seller_class"] == mm
        notional = t["price"] * t["quantity"]
        cash = int(notional[sells].sum() - notional[buys].sum())
        cash -= int(t["buyer_fee"][buys].sum() + t["seller_fee"][sells].sum())
        inventory = int(t["quantity"][buys].sum() - t["quantity"][sells].sum())
        out["mm_pnl_cny"] = (cash + inventory * last_price) / CASH_UNIT
    ob = records.obligations[records.obligations["instrument"] == instrument]
    if len(ob):
        out["mm_two_sided_share"] = float(ob["two_sided_share"].mean())
        out["mm_compliance"] = float(ob["passed"].mean())
    return out


def _fee_metrics(records: RunRecords, t: Columns, turnover_cny: float, eff_bp: float):
    """Return fees paid by each class of trader, in total, and the one-way trading cost."""
    n = len(records.classes)
    paid = np.bincount(t["buyer_class"], weights=t["buyer_fee"], minlength=n)[:n]
    paid += np.bincount(t["seller_class"], weights=t["seller_fee"], minlength=n)[:n]
    out = {f"fees_{name}_cny": float(paid[k]) / CASH_UNIT for k, name in enumerate(records.classes)}
    total = float(t["buyer_fee"].sum() + t["seller_fee"].sum()) / CASH_UNIT
    out["fees_cny"] = total
    per_side_bp = total / (2 * turnover_cny) * 1e4 if turnover_cny > 0 else math.nan
    out["trading_cost_bp"] = eff_bp / 2 + per_side_bp
    return out


def _efficiency(records: RunRecords, instrument: int, q: Columns, mid, last) -> float:
    f = records.fundamental[records.fundamental["instrument"] == instrument]
    if not len(f) or not len(q["timestamp"]):
        return math.nan
    value = f["value"].astype(np.float64)
    m = _mid_at(f["timestamp"], q["timestamp"], mid, last)
    return _nanmean(np.abs(m - value) / value * 1e4)


def _turnover_rate(records: RunRecords, instrument: int) -> float:
    d = records.daily[
        (records.daily["instrument"] == instrument) & (records.daily["free_float"] > 0)
    ]
    return float((d["volume"] / d["free_float"]).mean()) if len(d) else math.nan


def _columns(table: np.ndarray, instrument: int) -> dict[str, np.ndarray]:
    """Return one instrument's rows of a record table as contiguous columns in time order."""
    mine = table["instrument"] == instrument
    whole = bool(mine.all())
    cols = {
        name: np.ascontiguousarray(table[name] if whole else table[name][mine])
        for name in table.dtype.names
    }
    ts = cols["timestamp"]
    if len(ts) > 1 and (ts[1:] < ts[:-1]).any():
        order = np.argsort(ts, kind="stable")
        cols = {name: col[order] for name, col in cols.items()}
    return cols


def instrument_metrics(
    records: RunRecords,
    instrument: int,
    *,
    interval_ns: int = INTERVAL_NS,
    horizon_ns: int = HORIZON_NS,
) -> dict[str, float]:
    """Return every metric of one instrument of a run (NaN where it is undefined)."""
    t = _columns(records.trades, instrument)
    q = _columns(records.quotes, instrument)
    out, mid, last = _quote_metrics(q)
    out.update(_trade_metrics(t, q, mid, last, horizon_ns))
    if not (last >= 0).any():  # no two-sided quote ever (bilateral negotiation): trade prices
        mid, last = last_trade_price(t, q)
    out.update(_interval_metrics(t, q, mid, last, interval_ns))
    out["turnover_rate"] = _turnover_rate(records, instrument)
    out["efficiency_bp"] = _efficiency(records, instrument, q, mid, last)
    last_price = float(t["price"][-1]) if len(t["price"]) else 0.0
    out.update(_maker_metrics(records, t, instrument, last_price))
    out.update(_fee_metrics(records, t, out["turnover_cny"], out["effective_spread_bp"]))
    return out


def run_metrics(
    records: RunRecords, *, interval_ns: int = INTERVAL_NS, horizon_ns: int = HORIZON_NS
) -> dict[str, dict[str, float]]:
    """Return a run's metrics by instrument symbol, plus the venue-wide row `RUN_ROW`."""
    out = {
        symbol: instrument_metrics(records, k, interval_ns=interval_ns, horizon_ns=horizon_ns)
        for k, symbol in enumerate(records.symbols)
    }
    venue = {
        f"revenue_{payee}_cny": fee / CASH_UNIT for payee, fee in records.fees_by_payee.items()
    }
    venue.update({f"count_{name}": float(value) for name, value in records.counts.items()})
    out[RUN_ROW] = venue
    return out
