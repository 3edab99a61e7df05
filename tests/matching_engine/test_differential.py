"""Random command streams, good and bad, through both engines: identical events, equal hashes.

After every batch the books must also agree with what the events alone tell (the ledger below):
every resting order as the events left it, price-time priority by arrival, each order's quantity
conserved, and no crossed book in continuous trading.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching_engine import commands
from matching_engine.api import BookSpec, MatchingEngine
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
from matching_engine.reference_book import ReferenceEngine

# Strategies: well-formed commands, one field in ten spoilt; cancels and replaces mostly aim at
# live orders (with their owner), so that the stream keeps a book worth matching against.

NEW, CANCEL, REPLACE = CommandKind.NEW, CommandKind.CANCEL, CommandKind.REPLACE
KINDS = [*[NEW] * 24, *[CANCEL] * 8, *[REPLACE] * 8, CommandKind.CLEAR]
KINDS += [CommandKind.UNCROSS] * 2 + [CommandKind.SET_PHASE] * 3 + [9]  # 9 is no command kind
PHASES = [Phase.CONTINUOUS] * 4 + [Phase.CALL] * 2 + [Phase.HALTED]
SPOILT = {  # field -> values no command may carry
    "side": [2, 255],
    "order_type": [2, 7],
    "tif": [3, 9],
    "phase": [3, 200],
    "order_id": [0, -4],
    "quantity": [0, -3],
}

Target = tuple[int, int, int]  # a live order: id, book, owner


@st.composite
def book_specs(draw) -> BookSpec:
    """Draw a small book: a few price levels on a tick, either tie-break, any opening phase."""
    tick = draw(st.sampled_from([1, 10, 100]))
    lo = tick * draw(st.integers(1, 5))
    return BookSpec(
        lo=lo,
        hi=lo + tick * draw(st.integers(0, 10)),
        tick=tick,
        tie_break=draw(st.sampled_from(list(TieBreak))),
        phase=draw(st.sampled_from(PHASES)),
    )


def bad_prices(spec: BookSpec) -> list[int]:
    """Return prices a book refuses: off its tick, outside its band, not positive."""
    return [spec.lo + 1 if spec.tick > 1 else 0, spec.lo - spec.tick, spec.hi + spec.tick, 0]


@st.composite
def command_rows(draw, specs: tuple[BookSpec, ...], targets: list[Target], ids: int) -> np.ndarray:
    """Draw one command row over `specs`; cancels and replaces mostly hit one of `targets`."""
    kind = draw(st.sampled_from(KINDS))
    if kind in (CANCEL, REPLACE) and targets and draw(st.integers(0, 7)):
        order_id, book, owner = draw(st.sampled_from(targets))
    else:
        order_id, owner = draw(st.integers(1, ids)), draw(st.integers(1, 3))
        book = draw(st.integers(0, len(specs) - 1))
    spec = specs[book]
    fields = {
        "side": draw(st.sampled_from(list(Side))),
        "order_type": draw(st.sampled_from([0] * 5 + [1])),
        "tif": draw(st.sampled_from([0] * 5 + [1, 2])),
        "phase": draw(st.sampled_from(PHASES)),
        "book": book,
        "owner": owner,
        "order_id": order_id,
        "price": spec.lo + spec.tick * draw(st.integers(0, spec.levels - 1)),
        "quantity": draw(st.integers(1, 10)),
        "timestamp": draw(st.integers(0, 2**62)),
    }
    if draw(st.integers(0, 9)) == 0:
        spoilt = {**SPOILT, "book": [-1, len(specs)], "price": bad_prices(spec)}
        name = draw(st.sampled_from(sorted(spoilt)))
        fields[name] = draw(st.sampled_from(spoilt[name]))
    return commands.command(kind, **fields)


@st.composite
def batches(draw, specs: tuple[BookSpec, ...], targets: list[Target], ids: int) -> np.ndarray:
    """Draw a batch of up to 40 commands; its own new orders become targets as they come."""
    targets = list(targets)
    rows = []
    for _ in range(draw(st.integers(0, 40))):
        row = draw(command_rows(specs, targets, ids))
        if row["kind"] == NEW and 0 <= row["book"] < len(specs):
            targets.append((int(row["order_id"]), int(row["book"]), int(row["owner"])))
        rows.append(row)
    return commands.batch(*rows)


# The ledger: the books as the events tell them


@dataclass
class Life:
    """One order from ACCEPTED to its removal, as its events tell it."""

    book: int
    side: int
    owner: int
    price: int
    leaves: int
    seq: int  # arrival: a priority-losing replace arrives again
    entered: int  # accepted quantity, plus what replaces added (or minus what they withdrew)
    filled: int = 0
    removed: int = 0


class Ledger:
    """Follow the event stream order by order and check each event against the story so far."""

    def __init__(self) -> None:
        self.live: dict[int, Life] = {}
        self.arrivals = count()

    def apply(self, batch: np.ndarray, events: np.ndarray) -> None:
        """Take in one batch's events."""
        for e in events.tolist():
            event = dict(zip(EVENT_DTYPE.names, e, strict=True))
            kind = EventKind(event["kind"])
            if kind == EventKind.ACCEPTED:
                self.accept(event)
            elif kind == EventKind.TRADE:
                uncross = batch[event["command"]]["kind"] == CommandKind.UNCROSS
                self.trade(event, uncross)
            elif kind in (EventKind.CANCELLED, EventKind.EXPIRED):
                life = self.live[event["order_id"]]
                assert event["quantity"] == life.leaves, f"{kind.name} must remove all: {event}"
                life.removed += life.leaves
                life.leaves = 0
                del self.live[event["order_id"]]
            elif kind == EventKind.REPLACED:
                self.replace(event)

    def accept(self, event: dict[str, int]) -> None:
        assert event["order_id"] not in self.live, f"accepted a live id: {event}"
        self.live[event["order_id"]] = Life(
            book=event["book"],
            side=event["side"],
            owner=event["owner"],
            price=event["price"],
            leaves=event["quantity"],
            seq=next(self.arrivals),
            entered=event["quantity"],
        )

    def trade(self, event: dict[str, int], uncross: bool) -> None:
        order, contra = self.live[event["order_id"]], self.live[event["contra_order_id"]]
        assert order.side == event["side"] != contra.side, f"sides do not face: {event}"
        assert uncross or order.owner != contra.owner, f"self-trade: {event}"
        buy, sell = (order, contra) if order.side == Side.BUY else (contra, order)
        assert sell.price <= event["price"] <= buy.price, f"trade outside a limit: {event}"
        for life, leaves, oid in (
            (order, event["leaves"], event["order_id"]),
            (contra, event["contra_leaves"], event["contra_order_id"]),
        ):
            life.filled += event["quantity"]
            life.leaves -= event["quantity"]
            assert life.leaves == leaves, f"order {oid} should have {life.leaves} left: {event}"
            if leaves == 0:
                del self.live[oid]

    def replace(self, event: dict[str, int]) -> None:
        life = self.live[event["order_id"]]
        if event["reason"] == Reason.MARKET_TO_LIMIT:
            assert event["leaves"] == life.leaves, f"market remainder misstated: {event}"
        elif event["price"] != life.price or event["leaves"] > life.leaves:
            life.seq = next(self.arrivals)
        life.entered += event["leaves"] - life.leaves
        life.price, life.leaves = event["price"], event["leaves"]

    def check(self, engine: MatchingEngine) -> None:
        """Require the engine's books to be the ledger's, in priority and not crossed."""
        queues = {
            (b, side): engine.orders(b, side) for b in range(len(engine.specs)) for side in Side
        }
        resting = {
            o.order_id: (b, side, o.owner, o.price, o.leaves)
            for (b, side), queue in queues.items()
            for o in queue
        }
        told = {i: (o.book, o.side, o.owner, o.price, o.leaves) for i, o in self.live.items()}
        assert resting == told, "the books differ from what the events told"
        assert engine.resting() == len(told)
        for i, life in self.live.items():
            conserved = life.filled + life.removed + resting[i][-1]
            assert life.entered == conserved, f"order {i} does not add up: {life}"
        for (book, side), queue in queues.items():
            sign = -1 if side == Side.BUY else 1
            keys = [(sign * o.price, self.live[o.order_id].seq) for o in queue]
            assert keys == sorted(keys), f"book {book} {side.name} out of priority: {queue}"
        for book in range(len(engine.specs)):
            bid, _, ask, _ = engine.best(book)
            if engine.phase(book) == Phase.CONTINUOUS:
                assert not (bid and ask and bid >= ask), f"book {book} crossed in CONTINUOUS"


# Comparing event streams


def describe(event: np.void) -> str:
    """Return one event as its kind and non-zero fields."""
    fields = [f"{name}={event[name]}" for name in EVENT_DTYPE.names[1:] if event[name]]
    return f"{EventKind(event['kind']).name} {' '.join(fields)}"


def assert_same_events(batch: np.ndarray, expected: np.ndarray, actual: np.ndarray) -> None:
    """Require identical event arrays; otherwise show the first difference in context."""
    if expected.tolist() == actual.tolist():
        return
    pairs = zip(expected.tolist(), actual.tolist(), strict=False)
    first = next(
        (i for i, (a, b) in enumerate(pairs) if a != b),
        min(len(expected), len(actual)),
    )
    lines = [f"events differ at {first}: reference gave {len(expected)}, other {len(actual)}"]
    for i in range(max(0, first - 3), first + 3):
        for name, events in (("reference", expected), ("other    ", actual)):
            if i < len(events):
                lines.append(f"{i:4} {name} {describe(events[i])}")
    culprit = (expected if first < len(expected) else actual)[first]["command"]
    lines.append(
        f"command {culprit}: {dict(zip(batch.dtype.names, batch[culprit].tolist(), strict=True))}"
    )
    raise AssertionError("\n".join(lines))


def step(engines: list[MatchingEngine], ledger: Ledger, batch: np.ndarray) -> None:
    """Process one batch on every engine; require agreement with the first, and the invariants."""
    events = [engine.process(batch) for engine in engines]
    for other in events[1:]:
        assert_same_events(batch, events[0], other)
    assert len({engine.state_hash() for engine in engines}) == 1, "state hashes differ"
    ledger.apply(batch, events[0])
    for engine in engines:
        ledger.check(engine)


def replay(data: st.DataObject, engines: list[MatchingEngine], ids: int = 24, rounds: int = 5):
    """Feed up to `rounds` drawn batches to every engine, one step at a time."""
    ledger = Ledger()
    for _ in range(data.draw(st.integers(1, rounds), label="batches")):
        targets = [(i, life.book, life.owner) for i, life in sorted(ledger.live.items())]
        step(engines, ledger, data.draw(batches(engines[0].specs, targets, ids), label="batch"))


specs_lists = st.lists(book_specs(), min_size=1, max_size=3).map(tuple)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=specs_lists, data=st.data())
def test_engines_agree_on_random_streams(numba_factory, specs, data):
    replay(data, [ReferenceEngine(specs), numba_factory(specs, capacity=1)])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=specs_lists, data=st.data())
def test_reference_keeps_the_invariants_on_random_streams(specs, data):
    replay(data, [ReferenceEngine(specs)])


def test_engines_agree_while_the_numba_storage_grows(numba_factory):
    """Rest ten times the numba engine's first capacity, then trade, cancel and replace it away."""
    spec = BookSpec(lo=1, hi=40, tick=1)
    engines = [ReferenceEngine([spec]), numba_factory([spec], capacity=1)]
    ledger = Ledger()
    resting = [
        commands.new(i, Side(i % 2), 1 + i % 20 + 20 * (i % 2), 1 + i % 7, owner=i % 5)
        for i in range(1, 161)
    ]
    step(engines, ledger, commands.batch(*resting))
    assert engines[0].resting() == 160
    churn = [
        *(commands.cancel(i, owner=i % 5) for i in range(3, 161, 3)),
        *(commands.replace(i, 20, 9, owner=i % 5) for i in range(4, 161, 8)),
        commands.new(500, Side.BUY, 40, 400, owner=9, order_type=OrderType.MARKET),
        commands.new(501, Side.SELL, 1, 400, owner=9, tif=TimeInForce.IOC),
    ]
    step(engines, ledger, commands.batch(*churn))


@pytest.mark.slow
@settings(max_examples=3_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(specs=specs_lists, data=st.data())
def test_soak_engines_agree_on_long_streams(numba_factory, specs, data):
    replay(data, [ReferenceEngine(specs), numba_factory(specs, capacity=1)], ids=60, rounds=30)
