"""The one agent interface: the simulator runs agents in process, the gateway's bot runner over
MQTT, with the same classes. Nothing here depends on the simulator's internals.

An agent acts for one or more participant ids (a population of simple traders is one object over
numpy arrays). At the start it is told the instruments and, each day, the session; it says when
it next wants to wake; on a wake it gets the time and a read-only `MarketView` and returns
commands as `exchange.dtypes.ORDER_DTYPE` rows (client order ids: int64 > 0, unique per
participant; the gateway maps them to strings); it receives the venue's events of its
participants as `VENUE_EVENT_DTYPE` rows. Units: prices in price units (1/10000 CNY), quantities
in shares, times in ns UTC.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from exchange.dtypes import ORDER_DTYPE

NEVER = np.iinfo(np.int64).max  # next_wake() of an agent that does not want to wake again
LEVEL_DTYPE = np.dtype([("price", np.int64), ("quantity", np.int64)])


@dataclass(frozen=True)
class InstrumentInfo:
    """Reference data of one listed instrument, as an agent is told it at the start."""

    index: int  # instrument index in commands and market data
    symbol: str
    instrument_class: str  # "equity", "convertible_bond", "preferred_share"
    mechanism: str  # "continuous", "call", "market_maker", "negotiated"
    tick: int  # price units
    lot: int  # minimum order size, shares
    previous_close: int  # price units
    round_trip_fee: int = 0  # an investor's fees to buy and sell 1,000 shares at the previous
    # close, taking liquidity both ways, in parts per 10^8 of the notional (0: not known)


@dataclass(frozen=True)
class Span:
    """One phase of the trading day, [start, end) in ns UTC, with the order types it takes."""

    phase: str  # exchange.rules.boards.PhaseName
    start: int
    end: int
    orders: tuple[str, ...]


@dataclass(frozen=True)
class Session:
    """A trading day as an agent is told it at the day's start."""

    day: int  # trading-day number
    midnight: int  # ns UTC of the day's local midnight (local "HH:MM" = midnight + offset)
    spans: tuple[Span, ...]
    references: tuple[int, ...] = ()  # each instrument's reference price today (the last close)
    date: datetime.date | None = None  # the local trading date (None: the runner does not say)

    def reference(self, instrument: InstrumentInfo) -> int:
        """Return the instrument's reference price today: the last close (price units), or its
        listing's previous close where the runner gave none."""
        if instrument.index < len(self.references):
            return self.references[instrument.index]
        return instrument.previous_close

    @property
    def limit_spans(self) -> tuple[Span, ...]:
        """Return the spans that take limit orders (or intents, their form under negotiated
        transfer), in time order."""
        return tuple(s for s in self.spans if {"limit", "intent"} & set(s.orders))

    @property
    def open(self) -> int:
        """Return the start of the first of the limit spans (ns UTC)."""
        return next((s.start for s in self.limit_spans), self.spans[0].start)

    @property
    def close(self) -> int:
        """Return the end of the last of the limit spans (ns UTC)."""
        return max((s.end for s in self.limit_spans), default=self.spans[-1].end)


class Top(NamedTuple):
    """Level 1 of one instrument: best bid and ask with sizes (0: none), last trade, volume,
    phase."""

    bid: int
    bid_quantity: int
    ask: int
    ask_quantity: int
    last: int  # last trade price today (0: none yet)
    volume: int  # shares traded today
    phase: int  # matching_engine.dtypes.Phase of the book

    @property
    def mid(self) -> float:
        """Return the mid of a two-sided quote (0.0 when a side is empty)."""
        return (self.bid + self.ask) / 2 if self.bid and self.ask else 0.0


class MarketView(Protocol):
    """What an agent may read of the market on a wake (read-only)."""

    def top(self, instrument: int) -> Top:
        """Return the instrument's level 1, last trade and phase."""
        ...

    def levels(self, instrument: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Return up to `depth` bid and ask levels (LEVEL_DTYPE rows), best first."""
        ...


class Agent:
    """Base of every agent: participant ids, a class name for the records, a latency.

    Subclasses override `start_day`, `wake` and, to follow their orders, `on_events`. The
    runner (simulator or gateway) calls start(), then per day start_day(), then wake() at
    next_wake() (or later, never earlier) and on_events() with the events of its participants.
    """

    agent_class = "agent"

    def __init__(self, participants: np.ndarray, latency_ns: int, seed: int) -> None:
        """Act for `participants` (int32 ids) with one-way latency `latency_ns` (> 0)."""
        if latency_ns <= 0:
            raise ValueError(f"latency_ns must be > 0, got {latency_ns}")
        self.participants = np.asarray(participants, dtype=np.int32)
        self.latency_ns = int(latency_ns)
        self.rng = np.random.default_rng(seed)
        self.instruments: tuple[InstrumentInfo, ...] = ()
        self.wake_at = NEVER

    def start(self, instruments: tuple[InstrumentInfo, ...]) -> None:
        """Be told the instruments before the first day."""
        self.instruments = instruments

    def start_day(self, session: Session) -> None:
        """Be told the day's session; set wake_at to the first wake (default: never)."""
        self.wake_at = NEVER

    def next_wake(self) -> int:
        """Return the ns UTC of the next wake (NEVER: none)."""
        return self.wake_at

    def wake(self, now: int, market: MarketView) -> np.ndarray:
        """Act at `now`: return ORDER_DTYPE commands (timestamps are set by the runner)."""
        return np.zeros(0, ORDER_DTYPE)

    def on_events(self, events: np.ndarray) -> None:
        """Receive VENUE_EVENT_DTYPE rows of this agent's participants."""

    def end_day(self) -> None:
        """The day is over (the venue expired what was left of the day orders)."""
