"""Synthetic run records for the studies tests and benchmarks (no simulator needed).

A random-walk mid on a one-second quote grid over two sessions a day (Shanghai 9:30-11:30 and
13:00-15:00), a spread of one to three ticks, and trades at the touch by random aggressors; fees
of 0.5 bp a side. Seeded: the same arguments give the same records.
"""

from __future__ import annotations

import numpy as np

from simulation.records import (
    ACCOUNT_RECORD_DTYPE,
    DAILY_RECORD_DTYPE,
    FUNDAMENTAL_RECORD_DTYPE,
    OBLIGATION_RECORD_DTYPE,
    ORDER_RECORD_DTYPE,
    QUOTE_RECORD_DTYPE,
    TRADE_RECORD_DTYPE,
    RunRecords,
)

SECOND = 1_000_000_000
DAY0 = 1_767_225_600 * SECOND  # 2026-01-01 00:00 UTC
SESSIONS = ((1 * 3600 + 30 * 60, 3 * 3600 + 30 * 60), (5 * 3600, 7 * 3600))  # UTC seconds
CLASSES = ("noise", "value", "market_maker")
TICK = 100


def synthetic_records(seed: int, *, days: int = 2, trades_per_day: int = 2_000) -> RunRecords:
    """Return the records of a synthetic run of one instrument over `days` days."""
    rng = np.random.default_rng(seed)
    grid = np.concatenate([np.arange(a, b) for a, b in SESSIONS]) * SECOND
    ts = (DAY0 + np.arange(days)[:, None] * 86_400 * SECOND + grid[None, :]).ravel()
    day = np.repeat(np.arange(days, dtype=np.int32), len(grid))
    mid = 100_000 + TICK * np.cumsum(rng.integers(-1, 2, len(ts)))
    half = TICK * rng.integers(1, 4, len(ts))
    quotes = np.zeros(len(ts), QUOTE_RECORD_DTYPE)
    quotes["timestamp"], quotes["day"] = ts, day
    quotes["bid"], quotes["ask"] = mid - half, mid + half
    quotes["bid_quantity"] = quotes["ask_quantity"] = 200 * rng.integers(1, 10, len(ts))
    for pct in ("1pct", "2pct"):
        quotes[f"bid_depth_{pct}"] = quotes[f"ask_depth_{pct}"] = 5_000 * (1 + (pct == "2pct"))
    n = days * trades_per_day
    at = np.sort(rng.choice(len(ts) - 1, n)) + 1
    trades = np.zeros(n, TRADE_RECORD_DTYPE)
    trades["timestamp"] = ts[at] + SECOND // 2
    trades["day"] = day[at]
    buy = rng.random(n) < 0.5
    trades["aggressor"] = np.where(buy, 0, 1)
    trades["price"] = np.where(buy, quotes["ask"][at], quotes["bid"][at])
    trades["quantity"] = 100 * rng.integers(1, 20, n)
    trades["mid_before"] = mid[at]
    trades["buyer_class"] = rng.integers(0, 3, n)
    trades["seller_class"] = rng.integers(0, 3, n)
    fee = trades["price"] * trades["quantity"] * 5 // 100_000
    trades["buyer_fee"] = trades["seller_fee"] = fee
    fundamental = np.zeros(len(ts[::60]), FUNDAMENTAL_RECORD_DTYPE)
    fundamental["timestamp"], fundamental["value"] = ts[::60], mid[::60] + TICK
    daily = np.zeros(days, DAILY_RECORD_DTYPE)
    daily["day"] = np.arange(days)
    daily["volume"] = np.bincount(trades["day"], weights=trades["quantity"], minlength=days)
    daily["free_float"] = 10_000_000
    obligations = np.zeros(days, OBLIGATION_RECORD_DTYPE)
    obligations["day"], obligations["two_sided_share"] = np.arange(days), 0.9
    obligations["passed"] = np.arange(days) % 2 == 0
    return RunRecords(
        scenario="synthetic",
        seed=seed,
        symbols=("SYN",),
        classes=CLASSES,
        orders=np.zeros(0, ORDER_RECORD_DTYPE),
        trades=trades,
        quotes=quotes,
        fundamental=fundamental,
        daily=daily,
        accounts=np.zeros(0, ACCOUNT_RECORD_DTYPE),
        obligations=obligations,
        fees_by_payee={"exchange": int(2 * fee.sum())},
        counts={"fills": n},
    )


def simulate_synthetic(text: str, seed: int) -> RunRecords:
    """Stand in for the simulator in runner tests: seed 1 of a text containing "fail" raises."""
    if "fail" in text and seed == 1:
        raise ValueError("this run was told to fail")
    return synthetic_records(seed, days=1, trades_per_day=200)
