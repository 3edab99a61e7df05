"""Helpers of the Exchange API tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import datetime

import numpy as np
from venue_helpers import CNY, RICH

from exchange.clearing.accounts import Participant
from exchange.orders import batch
from exchange.venue import kernel as k
from exchange.venue.exchange import Exchange, Listing
from matching_engine.dtypes import EventKind, Side

MONDAY = datetime.date(2025, 3, 3)
PRICE = 10 * CNY
BUY, SELL = Side.BUY, Side.SELL


def make_exchange(
    board: str = "star",
    kinds: tuple[str, ...] = ("investor",) * 4,
    cash: int = 1_000_000 * CNY,
    shares: int = 10_000,
    listings: tuple[Listing, ...] = (Listing("AAA", "equity", PRICE),),
    **options: object,
) -> Exchange:
    """Return an Exchange with participants 0..n-1 of `kinds`, each with cash and shares."""
    people = [Participant(i, kind, RICH, 36) for i, kind in enumerate(kinds)]
    exchange = Exchange(board, list(listings), people, **options)
    for p in range(len(kinds)):
        exchange.deposit(p, cash)
        if shares:
            for i in range(len(listings)):
                exchange.issue(i, p, shares)
    return exchange


def at(exchange: Exchange, time: str, day: datetime.date = MONDAY) -> int:
    """Return the ns UTC of a local time on a day."""
    return exchange.calendar.local_ns(day, time)


def send(exchange: Exchange, *rows: np.ndarray) -> np.ndarray:
    """Submit rows as one batch and return the events."""
    return exchange.submit(batch(*rows))


def kinds(events: np.ndarray) -> list[str]:
    """Return the event kinds by name (QUEUED for the venue's 9)."""
    return [EventKind(e).name if e <= 8 else "QUEUED" for e in events["kind"]]


def fills(events: np.ndarray) -> list[tuple[int, int]]:
    """Return (price, quantity) of each TRADE event."""
    trades = events[events["kind"] == EventKind.TRADE]
    return list(zip(trades["price"].tolist(), trades["quantity"].tolist(), strict=True))


def snapshot(exchange: Exchange) -> tuple:
    """Return everything a refused command must leave unchanged."""
    s = exchange.state
    used = int(s.g[k.G_NEXT_OID])
    return (
        s.par.tobytes(),
        s.pos.tobytes(),
        s.ins.tobytes(),
        s.ords[:used].tobytes(),
        s.ht.tobytes(),
        s.collected.tobytes(),
        exchange.engine.state_hash(),
    )


def total_cash(exchange: Exchange) -> int:
    """Return the cash of every participant plus every fee collected (1/10000 CNY)."""
    return int(exchange.state.par[:, k.CASH].sum() + exchange.state.collected.sum())


def total_shares(exchange: Exchange) -> list[int]:
    """Return the shares of each instrument over all participants."""
    return exchange.state.pos[:, :, k.POS].sum(axis=0).tolist()
