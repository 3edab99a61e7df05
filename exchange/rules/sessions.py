"""The trading day of a board on a date: its phases as int64 ns UTC spans, and phase checks.

A board's session schedule (boards.SessionPhase, local times) becomes a timeline of PhaseSpans on
a trading day; a periodic_call span is cut into its intervals, each uncrossing at its end. Times
outside every span are closed. Each span says which matching-core phase its books are in:
continuous and market_making match (CONTINUOUS); calls collect orders (CALL); every other phase
(pre_open, lunch_break, post_close, after_hours, negotiation) keeps the limit-order books HALTED,
and the venue holds or routes the orders it accepts there (pre_open orders enter the book when
continuous trading starts; fixed-price orders match in after_hours at the close; intents go to
the negotiation board).
"""

from __future__ import annotations

import bisect
import datetime
from dataclasses import dataclass

from exchange.reasons import VenueReason
from exchange.rules.boards import Board, OrderKind, PhaseName
from exchange.rules.calendar import NS_PER_SECOND, TradingCalendar
from matching_engine.dtypes import Phase

CORE_PHASE: dict[str, Phase] = {
    "continuous": Phase.CONTINUOUS,
    "market_making": Phase.CONTINUOUS,
    "opening_call": Phase.CALL,
    "closing_call": Phase.CALL,
    "periodic_call": Phase.CALL,
}


@dataclass(frozen=True)
class PhaseSpan:
    """One phase of a trading day, [start, end) in ns UTC; `uncross`: an auction runs at end."""

    phase: PhaseName
    start: int
    end: int
    orders: tuple[OrderKind, ...]
    cancel: bool
    uncross: bool

    @property
    def core_phase(self) -> Phase:
        """Return the matching-core phase of the books during this span."""
        return CORE_PHASE.get(self.phase, Phase.HALTED)


def timeline(board: Board, calendar: TradingCalendar, day: datetime.date) -> tuple[PhaseSpan, ...]:
    """Return the board's phases on a trading day in time order; ValueError on a closed day."""
    if not calendar.is_trading_day(day):
        raise ValueError(f"{day} is not a trading day")
    spans = []
    for phase in board.session:
        start, end = calendar.local_ns(day, phase.start), calendar.local_ns(day, phase.end)
        step = phase.interval_minutes * 60 * NS_PER_SECOND or end - start
        for left in range(start, end, step):
            spans.append(
                PhaseSpan(phase.phase, left, left + step, phase.orders, phase.cancel, phase.uncross)
            )
    return tuple(spans)


def phase_at(spans: tuple[PhaseSpan, ...], ns: int) -> PhaseSpan | None:
    """Return the span in force at time ns (ns UTC), or None when the market is closed."""
    i = bisect.bisect_right([s.start for s in spans], ns) - 1
    if i >= 0 and ns < spans[i].end:
        return spans[i]
    return None


def uncross_times(spans: tuple[PhaseSpan, ...]) -> list[int]:
    """Return the times (ns UTC) at which a call auction uncrosses, in order."""
    return [s.end for s in spans if s.uncross]


def check_order(span: PhaseSpan | None, order: OrderKind) -> int:
    """Return MARKET_CLOSED, PHASE_REJECTS_ORDER_TYPE, or 0 if the phase takes this order type."""
    if span is None:
        return VenueReason.MARKET_CLOSED
    return 0 if order in span.orders else VenueReason.PHASE_REJECTS_ORDER_TYPE


def check_cancel(span: PhaseSpan | None) -> int:
    """Return MARKET_CLOSED, PHASE_REJECTS_CANCEL, or 0 if the phase takes cancels."""
    if span is None:
        return VenueReason.MARKET_CLOSED
    return 0 if span.cancel else VenueReason.PHASE_REJECTS_CANCEL
