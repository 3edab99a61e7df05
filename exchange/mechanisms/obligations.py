"""Market-maker obligations (NEEQ style, DOMAIN.md 3.5): one maker's day measured against them.

Input: a maker's quote states on one instrument over a day (`QuoteHistory`: from each time on, bid
and ask price and open quantity, 0 quantity = no quote on that side, and the maker's inventory;
state i holds until state i + 1, the last one to the session's end) and the day's market-making
time (the continuous / market_making spans, [start, end) ns UTC). Every duration counts
market-making time only: a side emptied at 11:28 and re-quoted at 13:01 was missing 3 minutes.

- two-sided: time with both sides quoted (or a missing side exempt) >= min_two_sided_share;
- spread: no two-sided quote wider than max(max_spread of the bid, max_spread_ticks ticks);
- size: a side below min_quote_quantity shares (0 included), from the first quote on, is a size
  breach, re-quoted in time when its market-making duration <= requote_seconds (one still open at
  the close within that time is not yet due);
- start: the first quote (two-sided or exempt) by the start of the first market-making span;
- exemptions: inventory < ask_exempt_below shares may skip the ask, inventory >= bid_exempt_share
  of the shares outstanding may skip the bid, on at most resume_days consecutive trading days:
  on the next one the side is required again (the streaks carry from day to day).

Prices in price units, times in ns UTC, shares of time as floats in the report only.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from exchange.rules.boards import MarketMaking
from exchange.rules.calendar import NS_PER_SECOND

SCALE = 100_000_000  # parts per 10^8
OBLIGATIONS = ("two_sided", "spread", "size", "start")


@dataclass(frozen=True)
class QuoteHistory:
    """A maker's quote states on one instrument, in time order (int64 arrays of equal length)."""

    time: np.ndarray
    bid: np.ndarray
    bid_quantity: np.ndarray
    ask: np.ndarray
    ask_quantity: np.ndarray
    inventory: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[int]]) -> QuoteHistory:
        """Build from rows (time, bid, bid_quantity, ask, ask_quantity, inventory)."""
        columns = np.array(rows, np.int64).reshape(-1, 6).T
        return cls(*columns)


@dataclass(frozen=True)
class SizeBreach:
    """A side below the minimum size from `start`; end: re-quoted then (None: not by the close).

    duration: market-making ns below the minimum; on_time: duration <= the re-quote time.
    """

    side: str
    start: int
    end: int | None
    duration: int
    on_time: bool


@dataclass(frozen=True)
class SpreadBreach:
    """A two-sided quote wider than the maximum, held from start to end (duration: MM ns)."""

    start: int
    end: int
    bid: int
    ask: int
    duration: int


@dataclass(frozen=True)
class ObligationReport:
    """One maker's day on one instrument: measures, breaches, a pass/fail per obligation, why.

    Durations in ns of market-making time; exempt_days: consecutive trading days each side's
    exemption has been used, today included (0: not used today). rebate: the maker rebate the
    day's fills paid it (1/10000 CNY); kept only if every obligation passed, else reclaimed.
    """

    day: datetime.date | None
    maker: int
    instrument: int
    market_making: int
    two_sided: int
    spread_within: int
    first_quote: int | None
    latest_start: int
    size_breaches: tuple[SizeBreach, ...]
    spread_breaches: tuple[SpreadBreach, ...]
    exempt: dict[str, int]  # side -> MM ns quoted one-sided under the exemption
    exempt_days: dict[str, int]
    obligations: dict[str, bool]
    reasons: tuple[str, ...]
    rebate: int = 0
    rebate_kept: bool = False

    @property
    def two_sided_share(self) -> float:
        """Return the share of market-making time quoted two-sided (exemptions included)."""
        return self.two_sided / self.market_making if self.market_making else 0.0

    @property
    def spread_share(self) -> float:
        """Return the share of market-making time quoted two-sided within the maximum spread."""
        return self.spread_within / self.market_making if self.market_making else 0.0

    @property
    def passed(self) -> bool:
        """Return whether the maker met every obligation that day."""
        return all(self.obligations.values())


def market_making_time(
    time: np.ndarray, until: int, spans: Sequence[tuple[int, int]]
) -> np.ndarray:
    """Return each state's market-making ns: [time[i], time[i+1]) (the last to `until`) in spans."""
    end = np.append(time[1:], max(until, int(time[-1]))) if len(time) else time
    overlap = np.zeros(len(time), np.int64)
    for start, stop in spans:
        overlap += np.clip(np.minimum(end, stop) - np.maximum(time, start), 0, None)
    return overlap


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the [start, end) indices of the runs of True in mask."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _exemption(
    name: str,
    condition: np.ndarray,
    missing: np.ndarray,
    other: np.ndarray,
    mm: np.ndarray,
    streak: int,
    rules: MarketMaking,
    reasons: list[str],
) -> tuple[np.ndarray, int]:
    """Return (states where the side's exemption applies, the side's streak after today)."""
    used = condition & missing & other & (mm > 0)
    if not used.any():
        return np.zeros_like(used), 0
    if streak >= rules.resume_days:
        reasons.append(f"{name} exemption used beyond {rules.resume_days} trading days")
        return np.zeros_like(used), streak + 1
    return condition & missing, streak + 1


def assess(
    history: QuoteHistory,
    spans: Sequence[tuple[int, int]],
    rules: MarketMaking,
    tick: int,
    total_shares: int,
    streaks: tuple[int, int] = (0, 0),
    day: datetime.date | None = None,
    maker: int = 0,
    instrument: int = 0,
) -> ObligationReport:
    """Measure one maker's day on one instrument against the obligations (module docstring).

    spans: the market-making spans in time order; tick: the instrument's tick (price units);
    total_shares: shares outstanding (bid exemption); streaks: (bid, ask) consecutive trading
    days each exemption was used before today.
    """
    h, reasons = history, []
    total = sum(stop - start for start, stop in spans)
    mm = market_making_time(h.time, spans[-1][1], spans)
    has_bid, has_ask = h.bid_quantity > 0, h.ask_quantity > 0
    bid_exempt, bid_days = _exemption(
        "bid",
        h.inventory * SCALE >= rules.bid_exempt_share * total_shares,
        ~has_bid,
        has_ask,
        mm,
        streaks[0],
        rules,
        reasons,
    )
    ask_exempt, ask_days = _exemption(
        "ask",
        h.inventory < rules.ask_exempt_below,
        ~has_ask,
        has_bid,
        mm,
        streaks[1],
        rules,
        reasons,
    )
    quoted = (has_bid | bid_exempt) & (has_ask | ask_exempt) & (has_bid | has_ask)
    both = has_bid & has_ask
    width = h.ask - h.bid
    within = (width * SCALE <= rules.max_spread * h.bid) | (width <= rules.max_spread_ticks * tick)
    wide = np.flatnonzero(both & ~within & (mm > 0))
    ends = np.append(h.time[1:], spans[-1][1])
    spread_breaches = tuple(
        SpreadBreach(int(h.time[i]), int(ends[i]), int(h.bid[i]), int(h.ask[i]), int(mm[i]))
        for i in wide
    )
    first = int(np.argmax(quoted)) if quoted.any() else len(quoted)
    started = np.arange(len(quoted)) >= first
    size_breaches = []
    limit = rules.requote_seconds * NS_PER_SECOND
    for side, quantity, exempt in (
        ("bid", h.bid_quantity, bid_exempt),
        ("ask", h.ask_quantity, ask_exempt),
    ):
        short = (quantity < rules.min_quote_quantity) & ~exempt & started
        for a, b in zip(*_runs(short), strict=True):
            duration = int(mm[a:b].sum())
            if duration:
                end = int(h.time[b]) if b < len(h.time) else None
                size_breaches.append(
                    SizeBreach(side, int(h.time[a]), end, duration, duration <= limit)
                )
    size_breaches.sort(key=lambda breach: breach.start)
    two_sided = int(mm[quoted].sum())
    first_quote = int(h.time[first]) if first < len(quoted) else None
    latest_start = spans[0][0]
    late = [breach for breach in size_breaches if not breach.on_time]
    obligations = {
        "two_sided": two_sided * SCALE >= rules.min_two_sided_share * total,
        "spread": not spread_breaches,
        "size": not late,
        "start": first_quote is not None and first_quote <= latest_start,
    }
    why = {
        "two_sided": f"two-sided {two_sided / max(total, 1):.1%} of market-making time, below "
        f"{rules.min_two_sided_share / SCALE:.0%}",
        "spread": f"{len(spread_breaches)} quote(s) wider than {rules.max_spread / SCALE:.0%} "
        f"or {rules.max_spread_ticks} ticks",
        "size": f"{len(late)} side(s) below {rules.min_quote_quantity} shares not re-quoted "
        f"within {rules.requote_seconds} s",
        "start": "no quote" if first_quote is None else "first quote after the latest start",
    }
    reasons += [why[name] for name in OBLIGATIONS if not obligations[name]]
    return ObligationReport(
        day=day,
        maker=maker,
        instrument=instrument,
        market_making=total,
        two_sided=two_sided,
        spread_within=int(mm[both & within].sum()),
        first_quote=first_quote,
        latest_start=latest_start,
        size_breaches=tuple(size_breaches),
        spread_breaches=spread_breaches,
        exempt={
            "bid": int(mm[bid_exempt & has_ask].sum()),
            "ask": int(mm[ask_exempt & has_bid].sum()),
        },
        exempt_days={"bid": bid_days, "ask": ask_days},
        obligations=obligations,
        reasons=tuple(reasons),
    )
