"""Layouts of a simulation run's records: what the simulator writes and the studies read.

One run (scenario, seed) gives one `RunRecords`: numpy structured arrays, one row an order, a
trade, a quote sample, a fundamental sample or an instrument's day. The studies layer computes
its metrics from these alone and writes them as Parquet (one file per table). Units as
everywhere: prices in price units (1/10000 CNY), quantities in shares (bonds), cash and fees in
1/10000 CNY, times in ns UTC, days as trading-day numbers from 0. Agent classes are indices
into `RunRecords.classes` (e.g. "noise", "value", "market_maker").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

ORDER_RECORD_DTYPE = np.dtype(
    [
        ("timestamp", np.int64),  # ns UTC the venue received the command
        ("participant", np.int32),  # participant id
        ("agent_class", np.int16),  # index into RunRecords.classes
        ("instrument", np.int32),  # instrument index (RunRecords.symbols)
        ("kind", np.uint8),  # exchange.dtypes.OrderCommand (NEW, CANCEL, REPLACE)
        ("side", np.uint8),  # matching_engine.dtypes.Side
        ("order_type", np.uint8),  # OrderType (LIMIT, MARKET) or FIXED_PRICE
        ("tif", np.uint8),  # TimeInForce
        ("price", np.int64),  # limit (protection) price
        ("quantity", np.int64),  # shares (bonds)
        ("reason", np.int32),  # 0 accepted, else the venue's reject code (exchange.reasons)
    ]
)

TRADE_RECORD_DTYPE = np.dtype(
    [
        ("timestamp", np.int64),  # ns UTC
        ("day", np.int32),  # trading-day number
        ("instrument", np.int32),
        ("price", np.int64),  # price units
        ("quantity", np.int64),  # shares (bonds)
        ("aggressor", np.int8),  # Side of the incoming order; -1 in a call-auction uncross
        ("buyer", np.int32),  # participant ids
        ("seller", np.int32),
        ("buyer_class", np.int16),  # indices into RunRecords.classes
        ("seller_class", np.int16),
        ("buyer_fee", np.int64),  # fees each side paid on this fill (rebates negative)
        ("seller_fee", np.int64),
        ("mid_before", np.int64),  # midquote just before the trade (0: no two-sided book)
    ]
)

QUOTE_RECORD_DTYPE = np.dtype(
    [
        ("timestamp", np.int64),  # ns UTC of the sample (taken on a grid and after each batch)
        ("day", np.int32),
        ("instrument", np.int32),
        ("bid", np.int64),  # best bid (0: none)
        ("bid_quantity", np.int64),
        ("ask", np.int64),  # best ask (0: none)
        ("ask_quantity", np.int64),
        ("bid_depth_1pct", np.int64),  # shares bid within 1% / 2% of the midquote
        ("ask_depth_1pct", np.int64),
        ("bid_depth_2pct", np.int64),
        ("ask_depth_2pct", np.int64),
        ("phase", np.uint8),  # matching_engine.dtypes.Phase of the book
    ]
)

FUNDAMENTAL_RECORD_DTYPE = np.dtype(
    [
        ("timestamp", np.int64),
        ("instrument", np.int32),
        ("value", np.int64),  # the fundamental value, price units
    ]
)

DAILY_RECORD_DTYPE = np.dtype(
    [
        ("day", np.int32),
        ("instrument", np.int32),
        ("open", np.int64),  # price units (0: no trade)
        ("high", np.int64),
        ("low", np.int64),
        ("close", np.int64),  # the venue's close (the next day's reference price)
        ("volume", np.int64),  # shares (bonds)
        ("turnover", np.int64),  # 1/10000 CNY
        ("trades", np.int64),
        ("free_float", np.int64),  # shares held by non-issuer participants at the close
    ]
)

ACCOUNT_RECORD_DTYPE = np.dtype(
    [
        ("day", np.int32),  # end of this trading day
        ("participant", np.int32),
        ("agent_class", np.int16),
        ("cash", np.int64),  # booked cash, 1/10000 CNY
        ("fees", np.int64),  # fees paid that day (rebates negative)
        ("position", np.int64),  # booked shares of instrument 0 ... see `positions`
        ("value", np.int64),  # cash + positions marked at the close, 1/10000 CNY
    ]
)

OBLIGATION_RECORD_DTYPE = np.dtype(
    [
        ("day", np.int32),
        ("participant", np.int32),  # the designated market maker
        ("instrument", np.int32),
        ("two_sided_share", np.float64),  # share of market-making time quoted two-sided
        ("passed", np.bool_),  # met every obligation that day
    ]
)


@dataclass
class RunRecords:
    """Everything one (scenario, seed) run recorded, plus what names its indices."""

    scenario: str
    seed: int
    symbols: tuple[str, ...]
    classes: tuple[str, ...]
    orders: np.ndarray  # ORDER_RECORD_DTYPE
    trades: np.ndarray  # TRADE_RECORD_DTYPE
    quotes: np.ndarray  # QUOTE_RECORD_DTYPE
    fundamental: np.ndarray  # FUNDAMENTAL_RECORD_DTYPE
    daily: np.ndarray  # DAILY_RECORD_DTYPE
    accounts: np.ndarray  # ACCOUNT_RECORD_DTYPE
    obligations: np.ndarray  # OBLIGATION_RECORD_DTYPE
    fees_by_payee: dict[str, int] = field(default_factory=dict)  # exchange revenue and others
    counts: dict[str, int] = field(default_factory=dict)  # events, orders, cancels, fills, ...

    def tables(self) -> dict[str, np.ndarray]:
        """Return the record tables by name (the Parquet files of a run)."""
        return {
            "orders": self.orders,
            "trades": self.trades,
            "quotes": self.quotes,
            "fundamental": self.fundamental,
            "daily": self.daily,
            "accounts": self.accounts,
            "obligations": self.obligations,
        }

    def digest(self) -> str:
        """Return a SHA-256 over every table's bytes: equal runs give equal digests."""
        h = hashlib.sha256()
        for name, table in self.tables().items():
            h.update(name.encode())
            h.update(np.ascontiguousarray(table).tobytes())
        return h.hexdigest()


def joined(parts: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """Return the rows of many small arrays of one structured dtype as one array
    (np.concatenate promotes the dtype once per part, which costs more than the copy)."""
    return np.frombuffer(b"".join(p.tobytes() for p in parts), dtype).copy()
