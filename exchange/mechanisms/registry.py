"""Trading mechanisms: the machinery an instrument class trades through (ARCHITECTURE.md).

A board names one mechanism per instrument class. `continuous` and `call` both trade through the
numba order books with the venue kernel in front, the session timeline driving each book's phase
(opening and closing calls, periodic calls, continuous trading), so one OrderBook mechanism serves
both. A desk mechanism (`negotiated`: exchange.mechanisms.negotiated, `market_maker`:
exchange.mechanisms.market_maker) attaches a desk to each Exchange through the venue interface of
exchange.mechanisms.desk: the desk's journaled operations, an optional screen in front of the
kernel for order batches, its end-of-day work and reports. The registry maps names to mechanisms;
each desk module registers its own (importing the exchange.mechanisms package registers them
all), so the venue looks mechanisms up by name and imports no desk module. Every mechanism feeds
the same accounts, fees, clearing, journal and market data (docs/mechanisms.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from exchange.mechanisms.desk import Desk, Venue
from exchange.rules.boards import Mechanism, OrderKind


class TradingMechanism(Protocol):
    """What the Exchange asks of a mechanism."""

    name: Mechanism
    order_kinds: tuple[OrderKind, ...]  # the order kinds it trades
    uses_book: bool  # whether its instruments get a book in the matching core

    def attach(self, venue: Venue) -> Desk | None:
        """Return the mechanism's desk on this venue (None: the kernel does everything)."""
        ...


@dataclass(frozen=True)
class OrderBook:
    """Price-time order book with call auctions where the session has them (continuous, call)."""

    name: Mechanism
    order_kinds: tuple[OrderKind, ...] = ("limit", "market")
    uses_book: bool = True

    def attach(self, venue: Venue) -> None:
        """Return None: the venue kernel and the books do all the work."""


@dataclass(frozen=True)
class DeskMechanism:
    """A mechanism whose instruments trade through a desk attached to each Exchange."""

    name: Mechanism
    order_kinds: tuple[OrderKind, ...]
    uses_book: bool
    desk: Callable[[Venue], Desk]

    def attach(self, venue: Venue) -> Desk:
        """Return a new desk on this venue."""
        return self.desk(venue)


class MechanismNotAvailable(NotImplementedError):
    """An instrument class trades by a mechanism no module has registered yet."""


MECHANISMS: dict[str, TradingMechanism] = {
    "continuous": OrderBook("continuous"),
    "call": OrderBook("call"),
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
