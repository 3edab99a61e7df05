"""A seeded synthetic trading day for one board: participants, listings and one order batch.

Half the participants buy all day and half sell (so the round-trip rule refuses nobody on the
first day); sellers hold shares issued long before, buyers hold cash. Orders arrive evenly over
the spans that take limit orders into a book; a new order rests 1 to 20 ticks off a slowly
drifting mid, or (5%) is priced two ticks through it, as a limit IOC in continuous phases and a
day order in calls; about 45% of the
commands cancel an earlier resting order of the same participant, which may have filled by then
(the venue then rejects the cancel: that is a command processed too). Units as everywhere:
prices in price units, quantities in shares, times in ns UTC.
"""

from __future__ import annotations

import datetime
from typing import NamedTuple

import numpy as np

from exchange.clearing.accounts import Participant
from exchange.dtypes import ORDER_DTYPE, OrderCommand
from exchange.rules.boards import load_board
from exchange.rules.calendar import TradingCalendar
from exchange.rules.sessions import timeline
from exchange.venue.exchange import Exchange, Listing
from matching_engine.dtypes import Phase, TimeInForce

CNY = 10_000
PRICE = 10 * CNY  # previous close of every listing
DAY = datetime.date(2025, 3, 3)  # a Monday
CANCEL_SHARE = 0.45
AGGRESSIVE_SHARE = 0.05
CASH = 10**12 * CNY  # each buyer's cash: never the binding constraint
SHARES = 10**9  # each seller's shares


class SyntheticDay(NamedTuple):
    """A board's synthetic day: who trades what, and the day's commands in time order."""

    board: str
    listings: list[Listing]
    participants: list[Participant]
    day: datetime.date
    batch: np.ndarray  # ORDER_DTYPE


def synthetic_day(
    board: str, commands: int, seed: int = 0, instruments: int = 1, participants: int = 1000
) -> SyntheticDay:
    """Return a day of about `commands` commands on a board (participants capped by its cap)."""
    rules = load_board(board)
    cap = rules.holder_cap.limit
    count = min(participants, cap) if cap else participants
    rng = np.random.default_rng(seed)
    calendar = TradingCalendar.load()
    spans = [
        s
        for s in timeline(rules, calendar, DAY)
        if "limit" in s.orders and s.core_phase != Phase.HALTED
    ]
    lot = rules.rules("equity").lot
    n = commands
    is_cancel = rng.random(n) < CANCEL_SHARE
    is_cancel[:100] = False
    orders = np.flatnonzero(~is_cancel)
    batch = np.zeros(n, ORDER_DTYPE)
    lengths = np.array([s.end - s.start for s in spans])
    offsets = np.linspace(0, lengths.sum(), n, endpoint=False).astype(np.int64)
    edges = np.concatenate([[0], np.cumsum(lengths)])
    span_of = np.searchsorted(edges, offsets, "right") - 1
    batch["timestamp"] = np.array([s.start for s in spans])[span_of] + offsets - edges[span_of]
    continuous = np.array([s.core_phase == Phase.CONTINUOUS for s in spans])[span_of]
    # new orders
    m = len(orders)
    who = rng.integers(0, count, m)
    side = (who >= count // 2).astype(np.uint8)  # first half buys, second half sells
    tick = rules.rules("equity").tick
    drift = np.cumsum(rng.normal(0, 0.02, m)).astype(np.int64)
    mid = PRICE + np.clip(drift, -100, 100) * tick
    away = rng.integers(1, 21, m) * tick
    aggressive = rng.random(m) < AGGRESSIVE_SHARE
    ioc = aggressive & continuous[orders]
    sign = np.where(side == 0, -1, 1)
    o = batch[orders]
    o["kind"] = OrderCommand.NEW
    o["side"] = side
    o["tif"] = np.where(ioc, TimeInForce.IOC, TimeInForce.DAY)
    o["participant"] = who
    o["instrument"] = rng.integers(0, instruments, m)
    o["client_order_id"] = np.arange(1, m + 1)
    o["price"] = np.where(aggressive, mid - 2 * sign * tick, mid + sign * away)
    o["quantity"] = lot.minimum * rng.integers(1, 6, m)
    batch[orders] = o
    # cancels of earlier passive orders, 1 to ~4,000 orders back
    cancels = np.flatnonzero(is_cancel)
    placed = np.searchsorted(orders, cancels) - 1
    back = np.minimum(rng.geometric(1 / 2_000, len(cancels)), placed)
    target = placed - back
    c = batch[cancels]
    c["kind"] = OrderCommand.CANCEL
    c["participant"] = who[target]
    c["client_order_id"] = target + 1
    batch[cancels] = c
    listings = [Listing(f"S{i:03d}", "equity", PRICE) for i in range(instruments)]
    people = [Participant(i, "investor", 10**6 * CNY, 36) for i in range(count)]
    return SyntheticDay(board, listings, people, DAY, batch)


def open_exchange(day: SyntheticDay, **options: object) -> Exchange:
    """Return an Exchange for the synthetic day, funded, with the day open (options: journal)."""
    exchange = Exchange(day.board, day.listings, day.participants, **options)
    half = len(day.participants) // 2
    for p in day.participants:
        if p.id < half:
            exchange.deposit(p.id, CASH)
        else:
            for i in range(len(day.listings)):
                exchange.issue(i, p.id, SHARES)
    exchange.open_day(day.day)
    return exchange
