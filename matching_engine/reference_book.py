"""Pure-Python reference engine: the oracle of the tests and the baseline of the benchmarks.

Written for clarity, not speed; follows docs/matching.md to the event. Per book and side a
SortedDict maps price -> deque of orders in arrival order; one dict maps every live id to its order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from itertools import accumulate
from typing import NamedTuple

import numpy as np
from sortedcontainers import SortedDict

from matching_engine.api import (
    FNV_OFFSET,
    MAX_PRICE,
    MAX_QUANTITY,
    BookSpec,
    Indicative,
    Level,
    Quote,
    RestingOrder,
    fold,
)
from matching_engine.dtypes import (
    EVENT_DTYPE,
    CommandKind,
    EventKind,
    OrderType,
    Phase,
    Side,
    TieBreak,
    TimeInForce,
)
from matching_engine.reasons import Reason

NO_CROSS = Indicative(0, 0, 0)


class _Command(NamedTuple):
    """One COMMAND_DTYPE row as Python ints (fields in dtype order)."""

    kind: int
    side: int
    order_type: int
    tif: int
    phase: int
    book: int
    owner: int
    order_id: int
    price: int
    quantity: int
    timestamp: int


@dataclass(eq=False)
class _Order:
    """A live order: its limit price and open quantity."""

    order_id: int
    owner: int
    side: Side
    price: int
    leaves: int
    book: int


class _Rejected(Exception):
    """A command failed validation with `reason`; the state is unchanged."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.name)
        self.reason = reason


def _require(condition: bool, reason: Reason) -> None:
    """Reject the command with `reason` unless `condition` holds."""
    if not condition:
        raise _Rejected(reason)


def _is_member(enum: type[IntEnum], value: int) -> bool:
    """Return whether `value` is the value of a member of `enum`."""
    return any(value == member for member in enum)


def _crosses(side: Side, limit: int, price: int) -> bool:
    """Return whether an order of `side` with `limit` may trade at `price`."""
    return price <= limit if side == Side.BUY else price >= limit


def auction(
    bids: Mapping[int, int], asks: Mapping[int, int], spec: BookSpec, reference: int
) -> Indicative:
    """Return the call-auction price, volume and imbalance of quantities aggregated by price.

    Every tick p from the lowest ask to the highest bid is examined: D(p) = bids at or above p,
    S(p) = asks at or below p, V(p) = min(D, S); p is a candidate when D(p+tick) <= V(p) and
    S(p-tick) <= V(p). The largest V wins, then the smallest |D - S|, then the book's tie-break.
    """
    if not bids or not asks:
        return NO_CROSS
    low, high = min(asks), max(bids)
    if high < low:
        return NO_CROSS
    prices = range(low, high + spec.tick, spec.tick)
    supply = list(accumulate(asks.get(p, 0) for p in prices))
    demand = list(accumulate(bids.get(p, 0) for p in reversed(prices)))[::-1]
    candidates = []
    for i, price in enumerate(prices):
        volume = min(demand[i], supply[i])
        demand_above = demand[i + 1] if i + 1 < len(prices) else 0
        supply_below = supply[i - 1] if i > 0 else 0
        if demand_above <= volume and supply_below <= volume:
            candidates.append((price, volume, abs(demand[i] - supply[i])))
    volume = max(v for _, v, _ in candidates)
    imbalance = min(m for _, v, m in candidates if v == volume)
    tied = [p for p, v, m in candidates if v == volume and m == imbalance]
    return Indicative(_tie_break(tied, spec, reference), volume, imbalance)


def _tie_break(prices: list[int], spec: BookSpec, reference: int) -> int:
    """Return the auction price among tied candidates (ascending) by the book's tie-break."""
    if spec.tie_break == TieBreak.SZSE:
        return min(prices, key=lambda p: (abs(p - reference), p))
    ticks = (prices[0] + prices[-1]) // spec.tick
    return (ticks + 1) // 2 * spec.tick


class _Book:
    """One book: its phase and, per side, price -> deque of orders in arrival order."""

    def __init__(self, spec: BookSpec, live: dict[int, _Order]) -> None:
        self.spec = spec
        self.phase = spec.phase
        self.levels: tuple[SortedDict, SortedDict] = (SortedDict(), SortedDict())
        self.live = live

    def prices(self, side: Side) -> Iterator[int]:
        """Yield the side's level prices, best first."""
        levels = self.levels[side]
        return reversed(levels.keys()) if side == Side.BUY else iter(levels.keys())

    def priority(self, side: Side) -> Iterator[_Order]:
        """Yield the side's resting orders in priority order (best price, then arrival)."""
        for price in self.prices(side):
            yield from self.levels[side][price]

    def front(self, side: Side) -> _Order | None:
        """Return the side's first order in priority, or None when the side is empty."""
        return next(self.priority(side), None)

    def quantity(self, side: Side, price: int) -> int:
        """Return the open quantity of one level."""
        return sum(order.leaves for order in self.levels[side][price])

    def aggregated(self, side: Side) -> dict[int, int]:
        """Return price -> open quantity for every level of a side."""
        return {price: self.quantity(side, price) for price in self.levels[side]}

    def crossed(self) -> bool:
        """Return whether the best bid is at or above the best ask."""
        bid, ask = self.front(Side.BUY), self.front(Side.SELL)
        return bid is not None and ask is not None and bid.price >= ask.price

    def add(self, order: _Order) -> None:
        """Rest the order at the back of its level."""
        self.levels[order.side].setdefault(order.price, deque()).append(order)
        self.live[order.order_id] = order

    def holds(self, order: _Order) -> bool:
        """Return whether the order rests in this book."""
        return self.live.get(order.order_id) is order

    def remove(self, order: _Order) -> None:
        """Take the order out of its level."""
        level = self.levels[order.side][order.price]
        level.remove(order)
        if not level:
            del self.levels[order.side][order.price]
        del self.live[order.order_id]


class ReferenceEngine:
    """Many books on sortedcontainers, one batch call; the semantics of docs/matching.md."""

    def __init__(self, specs: Sequence[BookSpec]) -> None:
        self.specs = tuple(specs)
        self._live: dict[int, _Order] = {}
        self._books = [_Book(spec, self._live) for spec in self.specs]
        self._events: list[tuple[int, ...]] = []
        self._index = 0
        self._command: _Command | None = None

    # Queries

    def best(self, book: int) -> Quote:
        """Return the best bid and ask of a book with their level quantities (0 when empty)."""
        b = self._books[book]
        quote = []
        for side in Side:
            price = next(b.prices(side), 0)
            quote += [price, b.quantity(side, price) if price else 0]
        return Quote(*quote)

    def depth(self, book: int, side: Side, levels: int) -> list[Level]:
        """Return up to `levels` non-empty levels of one side, best first."""
        b = self._books[book]
        return [
            Level(price, b.quantity(side, price), len(b.levels[side][price]))
            for price, _ in zip(b.prices(side), range(levels), strict=False)
        ]

    def orders(self, book: int, side: Side) -> list[RestingOrder]:
        """Return the resting orders of one side in priority order (best price, then time)."""
        return [
            RestingOrder(o.order_id, o.owner, o.price, o.leaves)
            for o in self._books[book].priority(side)
        ]

    def indicative(self, book: int, reference: int = 0) -> Indicative:
        """Return the call-auction price, volume and imbalance if the book were uncrossed now."""
        b = self._books[book]
        return auction(b.aggregated(Side.BUY), b.aggregated(Side.SELL), b.spec, reference)

    def phase(self, book: int) -> Phase:
        """Return the book's phase."""
        return self._books[book].phase

    def resting(self) -> int:
        """Return the number of resting orders over all books."""
        return len(self._live)

    def state_hash(self) -> int:
        """Return the FNV-1a hash of every book's phase and resting orders (api.fold)."""
        h = FNV_OFFSET
        for index, b in enumerate(self._books):
            h = fold(fold(h, index), b.phase)
            for side in Side:
                for o in b.priority(side):
                    for value in (o.price, o.order_id, o.owner, o.leaves):
                        h = fold(h, value)
        return h

    # Commands

    def process(self, commands: np.ndarray) -> np.ndarray:
        """Apply a batch of COMMAND_DTYPE rows in order and return their EVENT_DTYPE events."""
        handlers = {
            CommandKind.NEW: self._new,
            CommandKind.CANCEL: self._cancel,
            CommandKind.REPLACE: self._replace,
            CommandKind.UNCROSS: self._uncross,
            CommandKind.SET_PHASE: self._set_phase,
            CommandKind.CLEAR: self._clear,
        }
        self._events = []
        for index, row in enumerate(commands.tolist()):
            self._index, self._command = index, _Command(*row)
            try:
                handler = handlers.get(self._command.kind)
                _require(handler is not None, Reason.UNKNOWN_COMMAND)
                handler(self._command)
            except _Rejected as rejected:
                self._reject(rejected.reason)
        return np.array(self._events, dtype=EVENT_DTYPE)

    def _book(self, c: _Command) -> _Book:
        """Return the command's book, or reject UNKNOWN_BOOK."""
        _require(0 <= c.book < len(self._books), Reason.UNKNOWN_BOOK)
        return self._books[c.book]

    def _order(self, c: _Command) -> tuple[_Book, _Order]:
        """Return the command's book and its live order owned by the command's owner."""
        book = self._book(c)
        order = self._live.get(c.order_id)
        _require(order is not None and order.book == c.book, Reason.UNKNOWN_ORDER)
        _require(order.owner == c.owner, Reason.NOT_ORDER_OWNER)
        return book, order

    def _check_terms(self, book: _Book, c: _Command) -> None:
        """Require a positive quantity and a price on the tick within the band."""
        spec = book.spec
        _require(0 < c.quantity <= MAX_QUANTITY, Reason.INVALID_QUANTITY)
        _require(c.price % spec.tick == 0, Reason.OFF_TICK)
        _require(spec.lo <= c.price <= spec.hi, Reason.PRICE_OUT_OF_BAND)

    def _new(self, c: _Command) -> None:
        """Validate a NEW order, accept it, then rest it (call phase) or match it."""
        book = self._book(c)
        _require(_is_member(Side, c.side), Reason.INVALID_SIDE)
        _require(_is_member(OrderType, c.order_type), Reason.INVALID_ORDER_TYPE)
        _require(_is_member(TimeInForce, c.tif), Reason.INVALID_TIME_IN_FORCE)
        _require(c.order_id > 0, Reason.INVALID_ORDER_ID)
        self._check_terms(book, c)
        limit_day = c.order_type == OrderType.LIMIT and c.tif == TimeInForce.DAY
        accepts = book.phase == Phase.CONTINUOUS or (book.phase == Phase.CALL and limit_day)
        _require(accepts, Reason.PHASE_REJECTS_ORDER)
        _require(c.order_id not in self._live, Reason.DUPLICATE_ORDER_ID)

        order = _Order(c.order_id, c.owner, Side(c.side), c.price, c.quantity, c.book)
        self._emit_order(EventKind.ACCEPTED, book, order, quantity=c.quantity, leaves=c.quantity)
        if book.phase == Phase.CALL:
            book.add(order)
        elif c.tif == TimeInForce.FOK and self._available(book, order) < order.leaves:
            self._remove_incoming(book, order, Reason.FOK_UNFILLED)
        else:
            self._execute(book, order, OrderType(c.order_type), TimeInForce(c.tif))

    def _available(self, book: _Book, order: _Order) -> int:
        """Count the quantity the order could fill, in priority, up to a resting self-order."""
        available = 0
        for resting in book.priority(Side(1 - order.side)):
            if not _crosses(order.side, order.price, resting.price) or resting.owner == order.owner:
                break
            available += resting.leaves
        return available

    def _execute(self, book: _Book, order: _Order, order_type: OrderType, tif: TimeInForce) -> None:
        """Match an incoming order in the continuous phase, then rest or remove what is left."""
        last_fill = self._match(book, order)
        if order.leaves == 0:
            return
        if tif == TimeInForce.IOC:
            self._remove_incoming(book, order, Reason.IOC_REMAINDER)
        elif order_type == OrderType.MARKET and last_fill is None:
            self._remove_incoming(book, order, Reason.MARKET_NO_LIQUIDITY)
        elif order_type == OrderType.MARKET:
            order.price = last_fill
            book.add(order)
            self._emit_order(
                EventKind.REPLACED,
                book,
                order,
                reason=Reason.MARKET_TO_LIMIT,
                quantity=order.leaves,
                leaves=order.leaves,
            )
        else:
            book.add(order)

    def _match(self, book: _Book, order: _Order) -> int | None:
        """Fill the order against the opposite side in priority; return the last fill price.

        Stops at a resting order of the same owner and cancels the incoming remainder.
        """
        last_fill = None
        contra = Side(1 - order.side)
        while order.leaves:
            resting = book.front(contra)
            if resting is None or not _crosses(order.side, order.price, resting.price):
                break
            if resting.owner == order.owner:
                self._remove_incoming(book, order, Reason.SELF_TRADE)
                break
            self._trade(book, order, resting, resting.price)
            last_fill = resting.price
        return last_fill

    def _trade(self, book: _Book, order: _Order, contra: _Order, price: int) -> None:
        """Fill order against resting contra at `price`; a contra filled in full leaves."""
        quantity = min(order.leaves, contra.leaves)
        order.leaves -= quantity
        contra.leaves -= quantity
        for party in (order, contra):
            if party.leaves == 0 and book.holds(party):
                book.remove(party)
        self._emit_order(
            EventKind.TRADE,
            book,
            order,
            price=price,
            quantity=quantity,
            leaves=order.leaves,
            contra_owner=contra.owner,
            contra_order_id=contra.order_id,
            contra_leaves=contra.leaves,
        )

    def _remove_incoming(self, book: _Book, order: _Order, reason: Reason) -> None:
        """Cancel the open quantity of an order that is not resting."""
        self._emit_order(EventKind.CANCELLED, book, order, reason=reason, quantity=order.leaves)
        order.leaves = 0

    def _cancel(self, c: _Command) -> None:
        """Remove a live order at its owner's request."""
        book, order = self._order(c)
        book.remove(order)
        self._emit_order(
            EventKind.CANCELLED,
            book,
            order,
            reason=Reason.CANCELLED_BY_OWNER,
            quantity=order.leaves,
        )

    def _replace(self, c: _Command) -> None:
        """Change a live order's price and open quantity; it loses priority unless reduced."""
        book, order = self._order(c)
        self._check_terms(book, c)
        _require(book.phase != Phase.HALTED, Reason.PHASE_REJECTS_ORDER)
        keeps_priority = c.price == order.price and c.quantity <= order.leaves
        if not keeps_priority:
            book.remove(order)
        order.price, order.leaves = c.price, c.quantity
        self._emit_order(EventKind.REPLACED, book, order, quantity=c.quantity, leaves=c.quantity)
        if keeps_priority:
            return
        if book.phase == Phase.CALL:
            book.add(order)
        else:
            self._execute(book, order, OrderType.LIMIT, TimeInForce.DAY)

    def _uncross(self, c: _Command) -> None:
        """Run the call auction at the indicative price, then switch to the command's phase."""
        book = self._book(c)
        _require(_is_member(Phase, c.phase), Reason.INVALID_PHASE)
        needs_reference = book.spec.tie_break == TieBreak.SZSE
        _require(0 < c.price <= MAX_PRICE or not needs_reference, Reason.MISSING_REFERENCE_PRICE)
        price, volume, imbalance = self.indicative(c.book, c.price)
        # Every event of the uncross carries the phase after it; PHASE closes them if it changed.
        before, book.phase = book.phase, Phase(c.phase)
        self._emit(EventKind.UNCROSSED, book, price=price, quantity=volume, leaves=imbalance)
        # Pairing the queues until one runs out trades min(D, S) = volume at the price.
        buys = deque(o for o in book.priority(Side.BUY) if volume and o.price >= price)
        sells = deque(o for o in book.priority(Side.SELL) if volume and o.price <= price)
        while buys and sells:
            self._trade(book, buys[0], sells[0], price)
            for queue in (buys, sells):
                if queue[0].leaves == 0:
                    queue.popleft()
        if book.phase != before:
            self._emit(EventKind.PHASE, book)

    def _set_phase(self, c: _Command) -> None:
        """Switch the book's phase; continuous trading needs an uncrossed book."""
        book = self._book(c)
        _require(_is_member(Phase, c.phase), Reason.INVALID_PHASE)
        _require(c.phase != Phase.CONTINUOUS or not book.crossed(), Reason.BOOK_CROSSED)
        book.phase = Phase(c.phase)
        self._emit(EventKind.PHASE, book)

    def _clear(self, c: _Command) -> None:
        """Expire every resting order: bids best first, then asks, each level in time order."""
        book = self._book(c)
        for side in Side:
            for order in list(book.priority(side)):
                book.remove(order)
                self._emit_order(
                    EventKind.EXPIRED,
                    book,
                    order,
                    reason=Reason.SESSION_END,
                    quantity=order.leaves,
                )

    # Events

    def _reject(self, reason: Reason) -> None:
        """Emit REJECTED echoing the current command; phase 0 when the book is unknown."""
        c = self._command
        known = 0 <= c.book < len(self._books)
        self._emit(
            EventKind.REJECTED,
            self._books[c.book] if known else None,
            reason=reason,
            side=c.side,
            owner=c.owner,
            order_id=c.order_id,
            price=c.price,
            quantity=c.quantity,
        )

    def _emit_order(self, kind: EventKind, book: _Book, order: _Order, **fields: int) -> None:
        """Emit an event about `order`: its side, owner, id and price unless given."""
        fields = {"price": order.price, **fields}
        self._emit(
            kind, book, side=order.side, owner=order.owner, order_id=order.order_id, **fields
        )

    def _emit(self, kind: EventKind, book: _Book | None, **fields: int) -> None:
        """Append an event of the current command; unnamed fields are 0, phase the book's."""
        row = dict.fromkeys(EVENT_DTYPE.names, 0)
        row.update(
            kind=kind,
            book=self._command.book,
            command=self._index,
            timestamp=self._command.timestamp,
            phase=0 if book is None else book.phase,
        )
        row.update(fields)
        self._events.append(tuple(row.values()))
