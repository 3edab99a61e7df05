"""Trading halts: volatility halts from a class's halt rules, and manual halts by the operator.

Times are int64 ns UTC, prices in price units. A halted instrument's books are HALTED (cancels
only). The Exchange arms its kernel with each instrument's `VolatilityHalts.thresholds()` (the
trade prices at which the next rule triggers); a command whose trade reaches one stops the kernel,
the venue asks `on_trade` for the halt, halts the book and records it in `Halts`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from exchange.rules.boards import ONE, HaltRule
from exchange.rules.calendar import NS_PER_SECOND, TradingCalendar

NO_HALT = 1 << 62  # an upward threshold no trade reaches


@dataclass(frozen=True)
class Halt:
    """A halt over [start, end) ns UTC (end None: until resumed); `cause` says why."""

    start: int
    end: int | None
    cause: str

    def covers(self, ns: int) -> bool:
        """Return whether the halt is in force at ns."""
        return self.start <= ns and (self.end is None or ns < self.end)


class VolatilityHalts:
    """One instrument's volatility halts on one trading day (DOMAIN.md 2 and 5.1)."""

    def __init__(
        self,
        rules: tuple[HaltRule, ...],
        calendar: TradingCalendar,
        day: datetime.date,
        listing_day: int,
        previous_close: int,
    ) -> None:
        """Arm the rules that apply on this listing day (1 = first); references in price units."""
        self.rules = [r for r in rules if r.through_day == 0 or listing_day <= r.through_day]
        self.references = {"previous_close": previous_close, "open": 0}
        self.calendar, self.day = calendar, day
        self.triggered: set[tuple[int, int]] = set()  # (rule index, +1 up / -1 down)

    def set_open(self, price: int) -> None:
        """Record the day's opening price, the reference of rules measured from the open."""
        self.references["open"] = price

    def thresholds(self) -> tuple[int, int]:
        """Return the trade prices (up, down) at or beyond which a rule not yet spent triggers.

        (NO_HALT, 0) when none is armed; (1, 0), every trade, while a rule waits for the open.
        """
        up, down = NO_HALT, 0
        for i, rule in enumerate(self.rules):
            reference = self.references[rule.reference]
            if reference <= 0:
                if rule.reference == "open":
                    return 1, 0
                continue
            if (i, 1) not in self.triggered:
                up = min(up, -(-reference * (ONE + rule.move) // ONE))
            if (i, -1) not in self.triggered:
                down = max(down, reference * (ONE - rule.move) // ONE)
        return up, down

    def on_trade(self, price: int, ns: int) -> Halt | None:
        """Return the halt a trade at `price` and time ns triggers, or None.

        Every armed rule the move reaches (|price / reference - 1| >= move) is spent for that
        direction; the halt is that of the largest move reached: `minutes` long, or until
        resume_by when minutes is 0, and never past resume_by. Trades at or after resume_by
        trigger nothing.
        """
        reached = []
        for i, rule in enumerate(self.rules):
            reference = self.references[rule.reference]
            if reference <= 0 or ns >= self.calendar.local_ns(self.day, rule.resume_by):
                continue
            if price * ONE >= reference * (ONE + rule.move):
                direction = 1
            elif price * ONE <= reference * (ONE - rule.move):
                direction = -1
            else:
                continue
            if (i, direction) not in self.triggered:
                self.triggered.add((i, direction))
                reached.append(rule)
        if not reached:
            return None
        rule = max(reached, key=lambda r: r.move)
        resume = self.calendar.local_ns(self.day, rule.resume_by)
        end = resume if rule.minutes == 0 else min(ns + rule.minutes * 60 * NS_PER_SECOND, resume)
        direction = "up" if price > self.references[rule.reference] else "down"
        return Halt(ns, end, f"volatility: {direction} {rule.move / ONE:.0%} from {rule.reference}")


class Halts:
    """Halts by instrument id: volatility halts the API records, manual halts by the operator."""

    def __init__(self) -> None:
        """Start with no halts."""
        self._halts: dict[int, list[Halt]] = {}

    def add(self, instrument: int, halt: Halt) -> None:
        """Record a halt of an instrument."""
        self._halts.setdefault(instrument, []).append(halt)

    def halt(
        self, instrument: int, start: int, end: int | None = None, cause: str = "manual"
    ) -> Halt:
        """Halt an instrument manually from start (ns UTC) to end (None: until resumed)."""
        if end is not None and end <= start:
            raise ValueError(f"halt end {end} must be after its start {start}")
        halt = Halt(start, end, cause)
        self.add(instrument, halt)
        return halt

    def resume(self, instrument: int, ns: int, cause: str | None = None) -> int:
        """End every halt of an instrument in force at ns (of that cause, if given); return how
        many were ended."""
        ended = 0
        halts = self._halts.get(instrument, [])
        for i, halt in enumerate(halts):
            if halt.covers(ns) and cause in (None, halt.cause):
                halts[i] = Halt(halt.start, ns, halt.cause)
                ended += 1
        return ended

    def history(self, instrument: int) -> tuple[Halt, ...]:
        """Return the halts of an instrument in the order they were recorded."""
        return tuple(self._halts.get(instrument, ()))

    def halted(self, instrument: int, ns: int) -> Halt | None:
        """Return a halt of the instrument in force at ns, or None."""
        return next((h for h in self._halts.get(instrument, ()) if h.covers(ns)), None)
