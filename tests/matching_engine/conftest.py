"""Fixtures of the matching-engine tests: both engines, and a market driver that reads as a story.

Prices in the driver are CNY (floats such as 10.01) and become price units (1/10000 CNY) on the
way in; events keep the engine's integers, and `Events` gives readable views of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import count

import numpy as np
import pytest

from matching_engine import commands
from matching_engine.api import BookSpec, MatchingEngine
from matching_engine.dtypes import (
    EVENT_DTYPE,
    EventKind,
    OrderType,
    Phase,
    Side,
    TieBreak,
    TimeInForce,
)
from matching_engine.reference_book import ReferenceEngine

EngineFactory = Callable[[Sequence[BookSpec]], MatchingEngine]

PRICE_SCALE = 10_000  # price units per CNY
MAKER, TAKER = 1, 2  # default owners: table rows rest as MAKER, the driver's orders are TAKER's
SPEC = BookSpec(lo=50_000, hi=200_000, tick=100)  # CNY 5.00 to 20.00 on a 0.01 tick
SIDES = {"B": Side.BUY, "S": Side.SELL}


def units(price: float) -> int:
    """Return a CNY price in price units."""
    return round(price * PRICE_SCALE)


def cny(price: int) -> float:
    """Return a price in price units as CNY."""
    return price / PRICE_SCALE


def load_engine(name: str) -> EngineFactory:
    """Return the engine class called `name`; skip the test when it cannot be imported."""
    if name == "numba":
        return pytest.importorskip("matching_engine.book").NumbaEngine
    return ReferenceEngine


@pytest.fixture(scope="session", params=["reference", "numba"])
def engine_factory(request: pytest.FixtureRequest) -> EngineFactory:
    """Return each engine class in turn: the contract holds for both."""
    return load_engine(request.param)


@pytest.fixture(scope="session")
def numba_factory() -> EngineFactory:
    """Return the numba engine class (the test is skipped until it imports)."""
    return load_engine("numba")


class Events:
    """The events of one submission, with readable views."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def kinds(self) -> list[EventKind]:
        """Return the event kinds in order."""
        return [EventKind(kind) for kind in self.rows["kind"]]

    def of(self, kind: EventKind) -> np.ndarray:
        """Return the events of one kind."""
        return self.rows[self.rows["kind"] == kind]

    def one(self, kind: EventKind) -> np.void:
        """Return the only event of one kind (fail unless there is exactly one)."""
        rows = self.of(kind)
        assert len(rows) == 1, f"expected one {kind.name}, got kinds {self.kinds()}"
        return rows[0]

    def fills(self) -> list[tuple[float, int]]:
        """Return (price in CNY, quantity) of each trade."""
        return [(cny(int(e["price"])), int(e["quantity"])) for e in self.of(EventKind.TRADE)]

    def matches(self) -> list[tuple[int, int, int]]:
        """Return (order_id, contra_order_id, quantity) of each trade."""
        trades = self.of(EventKind.TRADE)
        return [(int(e["order_id"]), int(e["contra_order_id"]), int(e["quantity"])) for e in trades]

    def dicts(self) -> list[dict[str, int]]:
        """Return every event as a dict of all its fields."""
        return [{name: int(e[name]) for name in EVENT_DTYPE.names} for e in self.rows]

    def reasons(self) -> list[tuple[EventKind, int]]:
        """Return (kind, reason) of each event that carries a reason."""
        return [(EventKind(e["kind"]), int(e["reason"])) for e in self.rows if e["reason"]]


class Market:
    """Drive one book of an engine with readable orders; prices in CNY.

    Table rows rest as MAKER's orders, the driver's own orders are TAKER's unless told; order ids
    come from one counter shared by every book of the engine.
    """

    def __init__(self, engine: MatchingEngine, book: int = 0, ids: Iterator[int] | None = None):
        self.engine = engine
        self.book = book
        self.ids = ids if ids is not None else count(1)
        self.last_id = 0

    def on(self, book: int) -> Market:
        """Return a driver of another book of the same engine, sharing the id counter."""
        return Market(self.engine, book, self.ids)

    def submit(self, *rows: np.ndarray) -> Events:
        """Process command rows as one batch and return their events."""
        return Events(self.engine.process(commands.batch(*rows)))

    def load(self, table: str) -> list[int]:
        """Rest limit DAY orders from a table (header, then rows); return their ids in order.

        Columns: side (B or S), price (CNY), qty, and optionally owner (MAKER by default).
        """
        header, *lines = [line.split() for line in table.strip().splitlines()]
        ids = []
        for line in lines:
            row = dict(zip(header, line, strict=True))
            side, price, qty = SIDES[row["side"]], float(row["price"]), int(row["qty"])
            events = self.order(side, price, qty, owner=int(row.get("owner", MAKER)))
            assert events.kinds() == [EventKind.ACCEPTED], f"row {line} did not rest quietly"
            ids.append(self.last_id)
        return ids

    def order(
        self,
        side: Side,
        price: float,
        qty: int,
        *,
        owner: int = TAKER,
        order_type: OrderType = OrderType.LIMIT,
        tif: TimeInForce = TimeInForce.DAY,
        order_id: int | None = None,
    ) -> Events:
        """Enter an order (a market order's price is its protection) and return its events."""
        self.last_id = next(self.ids) if order_id is None else order_id
        row = commands.new(
            self.last_id,
            side,
            units(price),
            qty,
            owner=owner,
            book=self.book,
            order_type=order_type,
            tif=tif,
        )
        return self.submit(row)

    def buy(self, price: float, qty: int, **terms: int) -> Events:
        """Enter a buy order; terms as for `order`."""
        return self.order(Side.BUY, price, qty, **terms)

    def sell(self, price: float, qty: int, **terms: int) -> Events:
        """Enter a sell order; terms as for `order`."""
        return self.order(Side.SELL, price, qty, **terms)

    def cancel(self, order_id: int, *, owner: int = MAKER) -> Events:
        """Cancel an order and return the events."""
        return self.submit(commands.cancel(order_id, owner=owner, book=self.book))

    def replace(self, order_id: int, price: float, qty: int, *, owner: int = MAKER) -> Events:
        """Replace an order's price and open quantity and return the events."""
        return self.submit(
            commands.replace(order_id, units(price), qty, owner=owner, book=self.book)
        )

    def uncross(self, then: Phase = Phase.CONTINUOUS, reference: float = 0.0) -> Events:
        """Run the book's call auction, then switch to `then`."""
        return self.submit(commands.uncross(book=self.book, then=then, reference=units(reference)))

    def set_phase(self, phase: Phase) -> Events:
        """Switch the book's phase."""
        return self.submit(commands.set_phase(phase, book=self.book))

    def clear(self) -> Events:
        """Expire every resting order of the book."""
        return self.submit(commands.clear(book=self.book))

    def event(self, kind: EventKind, *, price: float = 0.0, **fields: int) -> dict[str, int]:
        """Return an expected event of this book as a dict: price in CNY, unnamed fields 0."""
        expected = dict.fromkeys(EVENT_DTYPE.names, 0)
        expected.update(kind=kind, book=self.book, price=units(price), **fields)
        return expected

    def queue(self, side: Side) -> list[tuple[float, int, int]]:
        """Return (price in CNY, open quantity, order id) of one side in priority order."""
        return [(cny(o.price), o.leaves, o.order_id) for o in self.engine.orders(self.book, side)]


@pytest.fixture
def make_market(engine_factory: EngineFactory) -> Callable[..., Market]:
    """Return a function building a market on book 0 of a fresh engine with the given specs."""

    def make(*specs: BookSpec) -> Market:
        return Market(engine_factory(specs or (SPEC,)))

    return make


@pytest.fixture
def market(make_market: Callable[..., Market]) -> Market:
    """Return a driver of a continuous SSE book, CNY 5.00 to 20.00 on a 0.01 tick."""
    return make_market()


@pytest.fixture
def call_market(make_market: Callable[..., Market]) -> Market:
    """Return a driver of an SSE book in the call phase."""
    return make_market(BookSpec(SPEC.lo, SPEC.hi, SPEC.tick, phase=Phase.CALL))


@pytest.fixture
def szse_market(make_market: Callable[..., Market]) -> Market:
    """Return a driver of an SZSE book in the call phase."""
    return make_market(BookSpec(SPEC.lo, SPEC.hi, SPEC.tick, TieBreak.SZSE, Phase.CALL))
