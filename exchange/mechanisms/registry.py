"""Trading mechanisms: the machinery an instrument class trades through (ARCHITECTURE.md).

A board names one mechanism per instrument class. `continuous` and `call` both trade through the
numba order books with the venue kernel in front, the session timeline driving each book's phase
(opening and closing calls, periodic calls, continuous trading), so one OrderBook mechanism serves
both. `negotiated` (intents on a quote board, confirmed bilaterally: exchange.negotiated) and
`market_maker` (investors against makers' quotes: exchange.market_maker) attach a desk to each
Exchange: the desk's journaled operations, an optional screen in front of the kernel for order
batches, and its end-of-day work. Every mechanism feeds the same accounts, fees, clearing, journal
and market data (docs/mechanisms.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from exchange.mechanisms.market_maker import MarketMakerDesk
from exchange.mechanisms.negotiated import NegotiationDesk
from exchange.rules.boards import Mechanism, OrderKind

if TYPE_CHECKING:
    from exchange.venue.exchange import Exchange


class Desk(Protocol):
    """A mechanism's per-Exchange machinery beside the venue kernel."""

    operations: dict[str, Callable[[dict[str, Any]], Any]]  # journal op name -> its apply
    # runs order-batch commands cc[i:] in place of Exchange._run (None: the kernel alone)
    screen: Callable[[bool, np.ndarray, np.ndarray, int], None] | None

    def close_day(self) -> None:
        """Finish the day at the session's end (expiries, reports)."""


class TradingMechanism(Protocol):
    """What the Exchange asks of a mechanism."""

    name: Mechanism
    order_kinds: tuple[OrderKind, ...]  # the order kinds it trades
    uses_book: bool  # whether its instruments get a book in the matching core

    def attach(self, exchange: Exchange) -> Desk | None:
        """Return the mechanism's desk for this Exchange (None: the kernel does everything)."""
        ...


@dataclass(frozen=True)
class OrderBook:
    """Price-time order book with call auctions where the session has them (continuous, call)."""

    name: Mechanism
    order_kinds: tuple[OrderKind, ...] = ("limit", "market")
    uses_book: bool = True

    def attach(self, exchange: Exchange) -> None:
        """Return None: the venue kernel and the books do all the work."""


@dataclass(frozen=True)
class DeskMechanism:
    """A mechanism whose instruments trade through a desk attached to each Exchange."""

    name: Mechanism
    order_kinds: tuple[OrderKind, ...]
    uses_book: bool
    desk: Callable[[Exchange], Desk]

    def attach(self, exchange: Exchange) -> Desk:
        """Return a new desk on this Exchange."""
        return self.desk(exchange)


class MechanismNotAvailable(NotImplementedError):
    """An instrument class trades by a mechanism no module has registered yet."""


MECHANISMS: dict[str, TradingMechanism] = {
    "continuous": OrderBook("continuous"),
    "call": OrderBook("call"),
    "negotiated": DeskMechanism("negotiated", ("intent",), False, NegotiationDesk),
    "market_maker": DeskMechanism("market_maker", ("limit", "quote"), True, MarketMakerDesk),
}


def register(mechanism: TradingMechanism) -> None:
    """Make a mechanism available to every Exchange."""
    MECHANISMS[mechanism.name] = mechanism


def mechanism(name: str) -> TradingMechanism:
    """Return the registered mechanism of that name; MechanismNotAvailable if there is none."""
    try:
        return MECHANISMS[name]
    except KeyError:
        raise MechanismNotAvailable(
            f"mechanism {name!r} is not registered; available: {', '.join(sorted(MECHANISMS))}"
        ) from None
