"""Clearing and settlement: DvP obligations on the board's cycle, statements, lifecycle events.

A fill is booked at once (the buyer's cash and the seller's shares leave their reservations, the
counter-legs arrive, so buying power and the holding rules see them) and creates obligations
that settle delivery versus payment on trading day T + settlement_cycle_days: the day's net cash
and shares per participant become settled balances together. A statement at the end of each
day shows both. Instrument lifecycle events (instruments.lifecycle) move cash from the issuer to
holders, and conversions and distributions create shares: the only ways total shares change.
Units: cash in 1/10000 CNY, shares (bonds) in units of the instrument, days as trading-day numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Statement:
    """One participant's end-of-day statement: booked and settled balances, the day's activity."""

    participant: int
    day: int  # trading-day number
    cash: int  # booked cash
    settled_cash: int  # cash whose obligations have settled
    reserved_cash: int  # held by open orders (0 after the close)
    positions: dict[str, int]  # booked shares by symbol (non-zero only)
    settled_positions: dict[str, int]
    bought: int  # notional bought today
    sold: int  # notional sold today
    fees: int  # fees paid today (rebates negative)


@dataclass
class Settlement:
    """Obligations waiting for their settlement day, and the settled balances."""

    settled_cash: np.ndarray  # (P,)
    settled_shares: np.ndarray  # (P, N)
    due: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)

    def book(self, day: int, cycle: int, cash: np.ndarray, shares: np.ndarray) -> None:
        """Queue a day's net obligations to settle on day + cycle (cycle 0: settle now)."""
        self.due.append((day + cycle, cash.copy(), shares.copy()))
        if cycle == 0:
            self.settle(day)

    def settle(self, day: int) -> int:
        """Settle every obligation due on or before `day`; return how many days settled."""
        ready = [d for d in self.due if d[0] <= day]
        self.due = [d for d in self.due if d[0] > day]
        for _, cash, shares in ready:
            self.settled_cash += cash
            self.settled_shares += shares
        return len(ready)
