"""The contract between the venue and a mechanism's desk: what each may ask of the other.

The Exchange hands each desk a `Venue`: its set-up (board, per-instrument rules), its state
arrays and numba engine, the session clock and timeline, and four actions: journal and apply a
desk operation (`call`), start a call's output at a time (`begin`), run venue commands through
the kernel (`run`) and finish a call (`collect`). A desk never sees the Exchange itself, so it
cannot reach into the venue's private machinery; the desk's own kernel steps (checks, holds,
fills, rejects, market data) are the public functions of exchange.venue.kernel over
`Venue.state`. The venue asks a `Desk` for its journaled operations, its screen in front of the
kernel, its end-of-day work and its obligation reports. Units as everywhere: prices in price
units, quantities in shares, times in ns UTC.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from exchange.mechanisms.obligations import ObligationReport
from exchange.rules.boards import Board, ClassRules
from exchange.rules.sessions import PhaseSpan
from exchange.venue.market_data import Snapshot
from exchange.venue.state import VenueState
from matching_engine.book import NumbaEngine


class Venue(Protocol):
    """What a desk may use of its Exchange."""

    board: Board
    rules: Sequence[ClassRules]  # per instrument, in listing order
    state: VenueState  # accounts, orders, instruments and the call's output buffers
    engine: NumbaEngine  # the matching core (its arrays feed the kernel's checks)

    @property
    def clock(self) -> int:
        """Return the session clock (ns UTC)."""
        ...

    @property
    def day(self) -> datetime.date | None:
        """Return the open trading day (None between days)."""
        ...

    @property
    def spans(self) -> tuple[PhaseSpan, ...]:
        """Return the open day's session timeline."""
        ...

    def book(self, instrument: int, levels: int = 5) -> Snapshot:
        """Return the level-2 snapshot of an instrument."""
        ...

    def call(self, op: dict[str, Any]) -> Any:
        """Journal a desk operation (a map with "op" and "timestamp"), then apply it.

        Raise (nothing recorded) unless a day is open and the timestamp is not before the clock.
        """
        ...

    def begin(self, ns: int) -> None:
        """Start a call's output: clear the last call's buffers, move the clock to ns."""
        ...

    def run(self, cmds: np.ndarray, cc: np.ndarray, i: int) -> int:
        """Run venue commands cmds[i:len(cc)] through the kernel (core rows in cc); return
        where it stopped: the end, or after a command that halted a book."""
        ...

    def collect(self) -> np.ndarray:
        """Finish a call: publish its events, fees and market data; return the events."""
        ...


class Desk(Protocol):
    """A mechanism's per-Exchange machinery beside the venue kernel."""

    operations: dict[str, Callable[[dict[str, Any]], Any]]  # journal op name -> its apply
    # runs order-batch commands in place of Venue.run, same signature (None: the kernel alone)
    screen: Callable[[np.ndarray, np.ndarray, int], int] | None

    def close_day(self) -> None:
        """Finish the day at the session's end (expiries, reports)."""
        ...

    def obligation_reports(self, day: datetime.date) -> list[ObligationReport]:
        """Return the market makers' obligation reports of a closed day (none: [])."""
        ...
