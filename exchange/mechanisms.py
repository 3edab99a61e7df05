"""Trading mechanisms: the machinery an instrument class trades through (ARCHITECTURE.md).

A board names one mechanism per instrument class. `continuous` and `call` both trade through the
numba order books with the venue kernel in front, the session timeline driving each book's phase
(opening and closing calls, periodic calls, continuous trading), so one OrderBook mechanism serves
both. `market_maker` (quotes under obligations) and `negotiated` (intents on a quote board,
confirmed bilaterally) are built by issue 6 and register here; until then an Exchange refuses to
list an instrument whose class trades by them (MechanismNotAvailable). Every mechanism feeds the
same accounts, fees, clearing, journal and market data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from exchange.boards import Mechanism, OrderKind


class TradingMechanism(Protocol):
    """What the Exchange asks of a mechanism."""

    name: Mechanism
    order_kinds: tuple[OrderKind, ...]  # the order kinds it trades
    uses_book: bool  # whether its instruments get a book in the matching core


@dataclass(frozen=True)
class OrderBook:
    """Price-time order book with call auctions where the session has them (continuous, call)."""

    name: Mechanism
    order_kinds: tuple[OrderKind, ...] = ("limit", "market")
    uses_book: bool = True


class MechanismNotAvailable(NotImplementedError):
    """An instrument class trades by a mechanism no module has registered yet."""


MECHANISMS: dict[str, TradingMechanism] = {
    "continuous": OrderBook("continuous"),
    "call": OrderBook("call"),
}


def register(mechanism: TradingMechanism) -> None:
    """Make a mechanism available to every Exchange (issue 6 registers the other two)."""
    MECHANISMS[mechanism.name] = mechanism


def mechanism(name: str) -> TradingMechanism:
    """Return the registered mechanism of that name; MechanismNotAvailable if there is none."""
    try:
        return MECHANISMS[name]
    except KeyError:
        raise MechanismNotAvailable(
            f"mechanism {name!r} is not built yet (issue 6: negotiated transfer and market "
            f"making); available: {', '.join(sorted(MECHANISMS))}"
        ) from None
