"""The contract every matching engine implements (the numba book and the reference book)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from matching_engine.dtypes import Phase, Side, TieBreak

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = 0xFFFFFFFFFFFFFFFF

# Input limits of every book (docs/matching.md, "Input limits"). A quantity below 2**32 and at
# most MAX_ORDERS live orders (order slots are int32) keep every sum the core forms (a level's
# total, the auction's cumulative demand and supply, their difference) below 2**62, so int64
# arithmetic never overflows and needs no check on the hot path.
MAX_PRICE = 10**12  # price units (100,000,000 CNY): the highest band edge, price or reference
MAX_QUANTITY = 2**32 - 1  # shares (or bonds) of one order: 4,294,967,295
MAX_ORDERS = 2**30  # live orders over all books of one engine (order slots)
MAX_LEVELS = 2**24  # ticks in one book's band (16,777,216): a dense ladder of 64 bytes a tick


@dataclass(frozen=True)
class BookSpec:
    """One book's price band [lo, hi] and tick (price units), tie-break and opening phase."""

    lo: int
    hi: int
    tick: int
    tie_break: TieBreak = TieBreak.SSE
    phase: Phase = Phase.CONTINUOUS

    def __post_init__(self) -> None:
        if self.tick <= 0:
            raise ValueError(f"tick {self.tick} must be positive")
        if self.lo <= 0 or self.lo % self.tick or self.hi % self.tick:
            raise ValueError(
                f"band [{self.lo}, {self.hi}] must be positive multiples of the tick {self.tick}"
            )
        if self.hi < self.lo:
            raise ValueError(f"band high {self.hi} is below band low {self.lo}")
        if self.hi > MAX_PRICE:
            raise ValueError(f"band high {self.hi} is above the highest price {MAX_PRICE}")
        if self.levels > MAX_LEVELS:
            raise ValueError(
                f"band [{self.lo}, {self.hi}] on tick {self.tick} has {self.levels:,} ticks; "
                f"a book holds at most {MAX_LEVELS:,}"
            )

    @property
    def levels(self) -> int:
        """Return the number of price levels in the band."""
        return (self.hi - self.lo) // self.tick + 1


class Quote(NamedTuple):
    """Best bid and ask with their total quantities; 0 where a side is empty."""

    bid_price: int
    bid_quantity: int
    ask_price: int
    ask_quantity: int


class Level(NamedTuple):
    """One price level: its price, total open quantity and number of orders."""

    price: int
    quantity: int
    orders: int


class RestingOrder(NamedTuple):
    """A resting order as the book holds it."""

    order_id: int
    owner: int
    price: int
    leaves: int


class Indicative(NamedTuple):
    """The call-auction result if the book were uncrossed now; price 0 when nothing crosses."""

    price: int
    volume: int
    imbalance: int


class MatchingEngine(Protocol):
    """Many books, one batch call: commands in (COMMAND_DTYPE), events out (EVENT_DTYPE)."""

    specs: tuple[BookSpec, ...]

    def process(self, commands: np.ndarray) -> np.ndarray:
        """Apply a batch of commands in order and return the events they caused."""
        ...

    def best(self, book: int) -> Quote:
        """Return the best bid and ask of a book."""
        ...

    def depth(self, book: int, side: Side, levels: int) -> list[Level]:
        """Return up to `levels` non-empty levels of one side, best first."""
        ...

    def orders(self, book: int, side: Side) -> list[RestingOrder]:
        """Return the resting orders of one side in priority order (best price, then time)."""
        ...

    def indicative(self, book: int, reference: int = 0) -> Indicative:
        """Return the call-auction price, volume and imbalance if the book were uncrossed now."""
        ...

    def phase(self, book: int) -> Phase:
        """Return the book's phase."""
        ...

    def resting(self) -> int:
        """Return the number of resting orders over all books."""
        ...

    def state_hash(self) -> int:
        """Return a 64-bit hash of every book's phase and resting orders (see fold)."""
        ...


def fold(h: int, value: int) -> int:
    """Fold one integer into an FNV-1a style 64-bit hash (the state_hash contract).

    state_hash starts at FNV_OFFSET; for each book in index order it folds the book index and
    its phase, then for side BUY then SELL, each resting order in priority order, it folds
    price, order_id, owner and leaves. Values are taken modulo 2**64.
    """
    return ((h ^ (value & MASK64)) * FNV_PRIME) & MASK64
