"""Market data of an instrument: book snapshots, day statistics, open and close, minute bars.

Incremental data (level deltas, trade prints, auction results, phase changes, indicative prices)
come out of the venue kernel as MD_DTYPE rows with per-instrument sequence numbers; the views here
are read from the same state, each carrying the sequence number it is consistent with, so a
client can join a snapshot with the deltas after it. Open and close follow DOMAIN.md 3.3: the
open is the first trade's price (the opening call's price where the call crossed); the close is
the price of the day's last call auction where it crossed, else the VWAP of the minute up to the
last trade (the SSE fallback), else the previous close. Units: prices in price units,
quantities in shares, turnover in 1/10000 CNY, times in ns UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exchange.venue import kernel as k
from matching_engine.api import Level
from matching_engine.book import NumbaEngine
from matching_engine.dtypes import Side

MINUTE_NS = k.BAR_NS


@dataclass(frozen=True)
class Snapshot:
    """Level-2 view of a book: bids and asks best first, and the sequence number it reflects."""

    instrument: int
    seq: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True)
class DayStats:
    """An instrument's day so far: OHLC, volume (shares), turnover (1/10000 CNY), VWAP, trades."""

    open: int
    high: int
    low: int
    last: int
    volume: int
    turnover: int
    trades: int

    @property
    def vwap(self) -> int:
        """Return the volume-weighted average price, rounded down to a price unit (0: no trade)."""
        return self.turnover // self.volume if self.volume else 0


def snapshot(engine: NumbaEngine, ins: np.ndarray, instrument: int, levels: int) -> Snapshot:
    """Return up to `levels` levels a side of one book (levels=1: level 1)."""
    return Snapshot(
        instrument,
        int(ins[instrument, k.SEQ]),
        tuple(engine.depth(instrument, Side.BUY, levels)),
        tuple(engine.depth(instrument, Side.SELL, levels)),
    )


def day_stats(ins: np.ndarray, instrument: int) -> DayStats:
    """Return the day's statistics of an instrument."""
    row = ins[instrument]
    return DayStats(
        *(int(row[c]) for c in (k.OPEN, k.HIGH, k.LOW, k.LAST, k.VOLUME, k.TURNOVER, k.TRADES))
    )


def closing_price(ins: np.ndarray, ring: np.ndarray, instrument: int) -> int:
    """Return the close: last call's price, else the last minute's VWAP, else the previous close."""
    row = ins[instrument]
    if row[k.AUCTION_PRICE] > 0:
        return int(row[k.AUCTION_PRICE])
    if row[k.TRADES] == 0:
        return int(row[k.PREV_CLOSE])
    kept = min(int(row[k.RING]), ring.shape[1])
    recent = ring[instrument, :kept]
    last = ring[instrument, (row[k.RING] - 1) % ring.shape[1], 0]
    window = recent[recent[:, 0] >= last - MINUTE_NS]
    return int((window[:, 1] * window[:, 2]).sum() // window[:, 2].sum())


def minute_bars(bars: np.ndarray, instrument: int, start: int) -> np.ndarray:
    """Return the instrument's non-empty minute bars: start ns, open, high, low, close, volume,
    turnover (one row a minute with trades)."""
    rows = bars[instrument]
    minutes = np.flatnonzero(rows[:, k.B_VOLUME])
    return np.column_stack([start + minutes * MINUTE_NS, rows[minutes]])
