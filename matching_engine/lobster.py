"""Replay a LOBSTER sample (lobsterdata.com) through the matching engines, checked row by row.

Messages become commands: a submission (type 1) a limit DAY order, a partial cancel (2) a
REPLACE down (priority kept), a delete (3) a CANCEL, a visible execution (4) an aggressive IOC
order of the other side at the execution price: the engine picks the resting order by price-time
priority, and how often it is the one LOBSTER names is reported. Hidden executions (5), cross
trades (6) and halts (7) leave the visible book alone and are counted.

A level-N file carries only messages that touch the top N levels: orders submitted or cancelled
deeper are inferred from the file (see _unsubmitted and _Planner.reconcile; docs/matching.md
states the rules), so that after every message the top N levels can be compared with the
orderbook file.
"""

from __future__ import annotations

import io
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from numba import njit, types
from numba.typed import Dict
from sortedcontainers import SortedList

from matching_engine.api import MAX_QUANTITY, BookSpec, MatchingEngine
from matching_engine.book import NumbaEngine
from matching_engine.dtypes import COMMAND_DTYPE, CommandKind, EventKind, Side, TimeInForce
from matching_engine.flows import Flow

SUBMIT, PARTIAL_CANCEL, DELETE, EXECUTE, HIDDEN, CROSS, HALT = 1, 2, 3, 4, 5, 6, 7
SKIPPED = {HIDDEN: "hidden_execution", CROSS: "cross_trade", HALT: "trading_halt"}
EMPTY_ASK = 9999999999  # LOBSTER's price for a missing ask level
RESTING_OWNER, AGGRESSOR_OWNER = 1, 2


@dataclass(frozen=True)
class LobsterSample:
    """A LOBSTER message file and its orderbook file, as integers."""

    time_ns: np.ndarray  # int64 ns since epoch (UTC when the file name carries the date)
    kind: np.ndarray  # int64 message type
    order_id: np.ndarray  # int64
    size: np.ndarray  # int64 shares
    price: np.ndarray  # int64 USD x 10000 (the price unit of the engine)
    direction: np.ndarray  # int64: 1 buy, -1 sell (for executions, the resting side)
    book: np.ndarray  # int64 (rows, 4 * levels): ask price, ask size, bid price, bid size, ...

    @property
    def levels(self) -> int:
        """Return the number of levels the orderbook file ships."""
        return self.book.shape[1] // 4

    def __len__(self) -> int:
        return len(self.kind)


EMPTY_LEVEL = 9_999_999_999  # LOBSTER's price of an empty level (negative on the bid side)
MESSAGE_COLUMNS = (  # name, lowest, highest
    ("time", 0, 86_400), ("type", 1, 7), ("order id", 0, 2**53), ("size", 0, MAX_QUANTITY),
    ("price", -EMPTY_LEVEL, EMPTY_LEVEL), ("direction", -1, 1),  # direction: -1 or 1
)  # fmt: skip
BOOK_COLUMNS = (("price", -EMPTY_LEVEL, EMPTY_LEVEL), ("size", 0, MAX_QUANTITY))  # alternating


def _read_csv(path: Path, kind: str) -> np.ndarray:
    """Return a LOBSTER CSV's numbers; ValueError naming the file, line and field for anything
    that is not a finite number within its column's range (whole except a message's time)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: byte {error.start} is not UTF-8 text") from None
    lines = text.splitlines()
    header = 1 if lines and re.search(r"[A-Za-z]", lines[0]) else 0
    if not any(line.strip() for line in lines[header:]):
        raise ValueError(f"{path}: no rows")
    try:
        if not text.isascii():
            raise ValueError("not ASCII")
        data = np.atleast_2d(np.loadtxt(io.StringIO(text), delimiter=",", skiprows=header))
    except ValueError:
        data = _scan(path, lines, header)  # slow, but it names the line and the field
    if data.size == 0:
        raise ValueError(f"{path}: no rows")
    for col in range(
        min(data.shape[1], len(MESSAGE_COLUMNS)) if kind == "message" else data.shape[1]
    ):
        name, low, high = MESSAGE_COLUMNS[col] if kind == "message" else BOOK_COLUMNS[col % 2]
        values = data[:, col]
        bad = ~np.isfinite(values) | (values < low) | (values > high)
        if name != "time":
            bad |= values != np.round(values)
        if name == "direction":
            bad |= values == 0
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{path} line {row + header + 1}: {name} {lines[row + header].split(',')[col]!r} "
                f"is not a {'number' if name == 'time' else 'whole number'} in {low}..{high}"
            )
    return data


def _scan(path: Path, lines: list[str], header: int) -> np.ndarray:
    """Parse the rows one by one; ValueError naming the first field that is not a number."""
    rows: list[list[float]] = []
    for n, line in enumerate(lines[header:], start=header + 1):
        fields = line.split(",")
        try:
            rows.append([float(x) if x.isascii() else math.nan for x in fields])
        except ValueError:
            bad = next(x for x in fields if not _number(x))
            raise ValueError(f"{path} line {n}: {bad[:20]!r} is not a number") from None
        if len(rows[-1]) != len(rows[0]):
            raise ValueError(f"{path} line {n}: {len(fields)} fields, line {header + 1} has "
                             f"{len(rows[0])}")  # fmt: skip
    return np.array(rows, dtype=np.float64)


def _number(text: str) -> bool:
    try:
        return text.isascii() and math.isfinite(float(text))
    except ValueError:
        return False


def _day_start_ns(path: Path) -> int:
    match = re.search(r"(\d{4}-\d{2}-\d{2})", path.name)
    if not match:
        return 0
    day = date.fromisoformat(match.group(1))
    midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo("America/New_York"))
    return int(midnight.timestamp()) * 1_000_000_000


def read_lobster(message_csv: str | Path, orderbook_csv: str | Path) -> LobsterSample:
    """Read a LOBSTER message file and its orderbook file, with or without a header line."""
    message_csv, orderbook_csv = Path(message_csv), Path(orderbook_csv)
    messages = _read_csv(message_csv, "message")
    book = _read_csv(orderbook_csv, "orderbook")
    if messages.shape[1] < 6:
        raise ValueError(f"{message_csv}: {messages.shape[1]} columns, a message file has 6")
    if book.shape[1] % 4:
        raise ValueError(f"{orderbook_csv}: {book.shape[1]} columns, not a multiple of 4")
    if len(book) != len(messages):
        raise ValueError(f"{orderbook_csv}: {len(book)} rows, {message_csv} has {len(messages)}")
    seconds = messages[:, 0]
    whole = np.floor(seconds)
    nanos = np.round((seconds - whole) * 1e9).astype(np.int64)
    return LobsterSample(
        time_ns=_day_start_ns(message_csv) + whole.astype(np.int64) * 1_000_000_000 + nanos,
        kind=messages[:, 1].astype(np.int64),
        order_id=messages[:, 2].astype(np.int64),
        size=messages[:, 3].astype(np.int64),
        price=np.round(messages[:, 4]).astype(np.int64),
        direction=messages[:, 5].astype(np.int64),
        book=np.round(book).astype(np.int64),
    )


@dataclass
class ReplayPlan:
    """What to feed the engines: the seed of the pre-open book, then the day's commands."""

    spec: BookSpec
    seed: np.ndarray  # COMMAND_DTYPE: the book before message 1
    commands: np.ndarray  # COMMAND_DTYPE: the day, inferred orders placed where they belong
    row_end: np.ndarray  # int64 per message: commands[:row_end[i]] give orderbook row i
    expected_contra: np.ndarray  # int64 per command: the resting order an execution must hit
    skipped: dict[str, int] = field(default_factory=dict)
    inferred_orders: int = 0  # orders the file never submits (named later, or never named)
    inferred_volume: int = 0  # shares the orderbook shows that no message names
    removed_volume: int = 0  # shares gone from the orderbook that no message removes


def _side(direction: int) -> Side:
    return Side.BUY if direction == 1 else Side.SELL


def _visible(row: np.ndarray) -> dict[tuple[int, int], int]:
    """Return {(side, price): quantity} of the levels an orderbook row shows."""
    levels = {}
    for j in range(0, len(row), 4):
        ask_px, ask_qty, bid_px, bid_qty = (int(x) for x in row[j : j + 4])
        if ask_qty > 0 and 0 < ask_px < EMPTY_ASK:
            levels[Side.SELL, ask_px] = ask_qty
        if bid_qty > 0 and bid_px > 0:
            levels[Side.BUY, bid_px] = bid_qty
    return levels


def _band(sample: LobsterSample) -> BookSpec:
    """Return a book spec on the sample's tick whose band holds every price with room to spare."""
    quoted = np.concatenate([sample.book[:, 0::4].ravel(), sample.book[:, 2::4].ravel()])
    prices = np.concatenate([sample.price, quoted])
    prices = np.unique(prices[(prices > 0) & (prices < EMPTY_ASK)])
    tick = math.gcd(100, *prices.tolist())
    lo = max(tick, int(prices.min()) // 2 // tick * tick)
    hi = (int(prices.max()) * 2 // tick + 1) * tick
    return BookSpec(lo=lo, hi=hi, tick=tick)


NO_ENTRY = "unsubmitted_order_never_hidden"  # skip reason: no row where it could enter unseen


def _sides(sample: LobsterSample) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the shown prices and quantities of each side, (2, rows, N) each, and per side and
    row the number of levels shown and the price of the last one, (2, rows) each (index: Side)."""
    ask_px, ask_qty = sample.book[:, 0::4], sample.book[:, 1::4]
    bid_px, bid_qty = sample.book[:, 2::4], sample.book[:, 3::4]
    qty = np.stack([bid_qty * (bid_px > 0), ask_qty * (ask_px < EMPTY_ASK)]).clip(min=0)
    px = np.where(qty > 0, np.stack([bid_px, ask_px]), 0)
    shown = (qty > 0).sum(axis=2)
    last = np.take_along_axis(px, np.maximum(shown - 1, 0)[..., None], axis=2)[..., 0]
    return px, qty, shown, last


@njit(cache=True)
def _entry_points(first, side, price, quantity, px, qty, shown, last):  # pragma: no cover
    """Return, per unsubmitted order, the message before which it enters (0: the pre-open book),
    or -1 where no row allows it: the latest row before its first mention that hides its price
    (N levels shown on its side, its price strictly beyond the last), every row after it up to
    the mention showing its level with at least its quantity."""
    n_levels = px.shape[2]
    entry = np.zeros(len(first), np.int64)
    for k in range(len(first)):
        s, p = side[k], price[k]
        for r in range(first[k] - 1, -2, -1):
            if r < 0:
                entry[k] = 0
                break
            if shown[s, r] == n_levels and (p < last[s, r] if s == 0 else p > last[s, r]):
                entry[k] = r + 1
                break
            at = 0
            for j in range(shown[s, r]):
                if px[s, r, j] == p:
                    at = qty[s, r, j]
            if at < quantity[k]:
                entry[k] = -1
                break
    return entry


def _unsubmitted(sample: LobsterSample) -> tuple[dict[int, list[int]], dict[int, tuple], set]:
    """Place the orders the file mentions but never submits; return where, their terms, and the
    ids of those no row allows.

    A level-N file holds only messages that touch the top N levels, so an order submitted
    deeper appears first when it is cancelled or executed. It entered while its price was
    hidden and rested until then, so it is placed just after the latest row before its first
    mention that hides its price, when every row from there to the mention shows its level
    with at least its quantity (else it has no valid entry point: its messages are skipped).
    Order ids tell nothing here: an order entered late behind better levels may carry a
    smaller id than orders the file submits before it. Orders entering at the same point are
    placed in the order of their first mention.

    Returns ({message index: [order id, ...]}, {order id: (side, price, total quantity)},
    {order id without an entry point}).
    """
    naming = np.flatnonzero(np.isin(sample.kind, (PARTIAL_CANCEL, DELETE, EXECUTE)))
    naming = naming[~np.isin(sample.order_id[naming], sample.order_id[sample.kind == SUBMIT])]
    ids, at, group = np.unique(sample.order_id[naming], return_index=True, return_inverse=True)
    first = naming[at]
    total = np.zeros(len(ids), np.int64)
    np.add.at(total, group, sample.size[naming])
    side = np.where(sample.direction[first] == 1, Side.BUY, Side.SELL).astype(np.int64)
    price = sample.price[first]
    entry = _entry_points(first, side, price, total, *_sides(sample))
    columns = (ids.tolist(), side.tolist(), price.tolist(), total.tolist())
    terms = {oid: (s, p, q) for oid, s, p, q in zip(*columns, strict=True)}
    placed: dict[int, list[int]] = {}
    for k in np.lexsort((first, entry)):
        if entry[k] >= 0:
            placed.setdefault(int(entry[k]), []).append(int(ids[k]))
    return placed, terms, set(ids[entry < 0].tolist())


class _Planner:
    """Build the command stream while keeping the book the messages explain, order by order."""

    def __init__(self, sample: LobsterSample) -> None:
        self.sample = sample
        self.rows: list[tuple] = []  # (kind, order_id, owner, side, price, quantity, tif, ts)
        self.contra: list[int] = []
        self.levels: dict[tuple[int, int], list[list[int]]] = {}  # queue of [id, open qty]
        self.prices = (SortedList(), SortedList())  # non-empty levels per side
        self.where: dict[int, tuple[int, int]] = {}
        self.next_id = int(max(sample.order_id.max(), 0)) + 1
        self.inferred_orders = 0
        self.inferred_volume = 0
        self.removed_volume = 0
        self.to_come: dict[int, int] = {}  # order id -> shares later messages take off it
        taking = np.isin(sample.kind, (PARTIAL_CANCEL, DELETE, EXECUTE))
        for oid, size in zip(sample.order_id[taking], sample.size[taking], strict=True):
            self.to_come[int(oid)] = self.to_come.get(int(oid), 0) + int(size)

    def emit(self, kind: int, oid: int, owner: int, side: int, price: int, qty: int, tif: int,
             at: int, contra: int = 0) -> None:  # fmt: skip
        self.rows.append((kind, oid, owner, side, price, qty, tif, at))
        self.contra.append(contra)

    def rest(self, oid: int, side: int, price: int, quantity: int, at: int) -> None:
        self.emit(CommandKind.NEW, oid, RESTING_OWNER, side, price, quantity, 0, at)
        queue = self.levels.setdefault((side, price), [])
        if not queue:
            self.prices[side].add(price)
        queue.append([oid, quantity])
        self.where[oid] = (side, price)

    def take(self, oid: int, size: int, mentioned: bool = True) -> int:
        """Take size off a resting order in the explained book; return what is left of it."""
        if mentioned:
            self.to_come[oid] -= size
        side, price = self.where[oid]
        queue = self.levels[side, price]
        entry = next(e for e in queue if e[0] == oid)
        entry[1] -= size
        if entry[1] <= 0:
            queue.remove(entry)
            del self.where[oid]
            if not queue:
                self.prices[side].remove(price)
        return max(entry[1], 0)

    def infer(self, side: int, price: int, quantity: int, at: int) -> None:
        """Rest an order no message names: volume the orderbook shows that was added unseen."""
        self.rest(self.next_id, side, price, quantity, at)
        self.next_id += 1
        self.inferred_orders += 1
        self.inferred_volume += quantity

    def quantity(self, side: int, price: int) -> int:
        return sum(e[1] for e in self.levels.get((side, price), ()))

    def reconcile(self, i: int, at: int) -> None:
        """Make levels that come into the file's view at row i hold what the row shows.

        Volume the messages do not explain was submitted unseen while the level was deep: it
        rests as an inferred order. Volume the row does not show was cancelled unseen: orders
        there holding more than later messages take off them are reduced (or cancelled) by
        that excess, oldest first.
        """
        shown = _visible(self.sample.book[i])
        shown_before = _visible(self.sample.book[i - 1]) if i else {}
        for side in (Side.BUY, Side.SELL):
            view = sorted(p for (s, p) in shown if s == side)
            ours = self.prices[side]
            if len(view) == self.sample.levels:  # the row shows N levels: look no deeper
                bound = view[0] if side == Side.BUY else view[-1]
                ours = (
                    ours.irange(minimum=bound) if side == Side.BUY else ours.irange(maximum=bound)
                )
            for price in set(view) | set(ours):
                if (side, price) in shown_before:
                    continue
                diff = shown.get((side, price), 0) - self.quantity(side, price)
                if diff > 0:
                    self.infer(side, price, diff, at)
                elif diff < 0:
                    self.drop_stale(side, price, -diff, at)

    def drop_stale(self, side: int, price: int, volume: int, at: int, before: int = 0) -> int:
        """Cut up to volume shares that later messages never take off orders at a level.

        Orders are cut oldest first, stopping at order `before` when given; returns the cut.
        """
        cut_total = k = 0
        queue = self.levels[side, price]
        while k < len(queue) and queue[k][0] != before and cut_total < volume:
            oid, quantity = queue[k]
            cut = min(quantity - self.to_come.get(oid, 0), volume - cut_total)
            k += 1
            if cut <= 0:
                continue
            left = self.take(oid, cut, mentioned=False)
            kind = CommandKind.REPLACE if left else CommandKind.CANCEL
            self.emit(kind, oid, RESTING_OWNER, side, price, left, 0, at)
            cut_total += cut
            k -= not left  # the order left the queue
        self.removed_volume += cut_total
        return cut_total

    def clear_ahead(self, oid: int, size: int, at: int) -> list[tuple[int, int]] | None:
        """Before an execution of size shares of oid, requeue stale volume ahead of it to the
        back; return None when oid is then first in its level, else the level the engine will
        hold after it executes size shares by price-time priority.

        Shares ahead of the executed order that no later message takes off were cancelled
        unseen while the level was deep; the level's total says as many were added unseen
        meanwhile, so they rest again as an inferred order at the back. Orders still ahead of
        it are named later: Nasdaq executed a later order first.
        """
        side, price = self.where[oid]
        moved = self.drop_stale(side, price, 1 << 62, at, before=oid)
        if moved:
            self.infer(side, price, moved, at)
        queue = self.levels[side, price]
        if queue[0][0] == oid:
            return None
        after, to_fill = [], size
        for resting, quantity in queue:
            fill = min(quantity, to_fill)
            to_fill -= fill
            if quantity > fill:
                after.append((resting, quantity - fill))
        return after

    def realign(self, engine_level: list[tuple[int, int]], side: int, price: int, at: int) -> None:
        """Make the engine's level hold the explained queue, in LOBSTER's order: cancel what
        the engine holds there and enter the queue again."""
        for oid, _ in engine_level:
            self.emit(CommandKind.CANCEL, oid, RESTING_OWNER, side, price, 0, 0, at)
        for oid, quantity in self.levels.get((side, price), []):
            self.emit(CommandKind.NEW, oid, RESTING_OWNER, side, price, quantity, 0, at)


def _new_in_view(sample: LobsterSample) -> np.ndarray:
    """Return per row whether it may bring levels into view: it shows a price the row before
    does not show, or on some side it looks deeper than the row before (row 0: always)."""
    px, _, shown, last = _sides(sample)
    full = shown == sample.levels
    deeper = np.where(np.arange(2)[:, None] == Side.BUY, last[:, 1:] < last[:, :-1],
                      last[:, 1:] > last[:, :-1])  # fmt: skip
    widened = full[:, :-1] & (~full[:, 1:] | deeper)
    known = (px[:, 1:, :, None] == px[:, :-1, None, :]).any(axis=3)
    appeared = ((px[:, 1:] > 0) & ~known).any(axis=2)
    return np.concatenate([[True], (widened | appeared).any(axis=0)])


def plan_replay(sample: LobsterSample) -> ReplayPlan:
    """Turn a sample into the pre-open seed and the day's commands, inferred orders included."""
    placed, terms, unplaced = _unsubmitted(sample)
    plan = _Planner(sample)
    skipped: dict[str, int] = {}
    row_end = np.zeros(len(sample), np.int64)
    widening = _new_in_view(sample).tolist()
    for i, (kind, oid, size, price, at, direction) in enumerate(
        zip(*(column.tolist() for column in (sample.kind, sample.order_id, sample.size,
              sample.price, sample.time_ns, sample.direction)), strict=True)
    ):  # fmt: skip
        side = _side(direction)
        for unseen in placed.get(i, ()):
            plan.rest(unseen, *terms[unseen], at)
        if kind in (PARTIAL_CANCEL, DELETE, EXECUTE) and oid in plan.where:
            engine_level = plan.clear_ahead(oid, size, at) if kind == EXECUTE else None
            left = plan.take(oid, size)
            if widening[i]:
                plan.reconcile(i, at)
            if kind == EXECUTE:
                plan.emit(CommandKind.NEW, plan.next_id, AGGRESSOR_OWNER, 1 - side, price, size,
                          TimeInForce.IOC, at, contra=oid)  # fmt: skip
                plan.next_id += 1
                if engine_level is not None:
                    plan.realign(engine_level, side, price, at)
            else:
                command = CommandKind.REPLACE if left > 0 else CommandKind.CANCEL
                plan.emit(command, oid, RESTING_OWNER, side, price, left, 0, at)
        elif kind == SUBMIT:
            plan.rest(oid, side, price, size, at)
            if widening[i]:
                plan.reconcile(i, at)
        else:
            reason = SKIPPED.get(kind, f"unknown_message_type_{kind}")
            if kind in (PARTIAL_CANCEL, DELETE, EXECUTE):
                reason = NO_ENTRY if oid in unplaced else "unknown_order_id"
            skipped[reason] = skipped.get(reason, 0) + 1
            if widening[i]:
                plan.reconcile(i, at)
        row_end[i] = len(plan.rows)

    commands = np.zeros(len(plan.rows), COMMAND_DTYPE)
    names = ("kind", "order_id", "owner", "side", "price", "quantity", "tif", "timestamp")
    for j, name in enumerate(names):
        commands[name] = [row[j] for row in plan.rows]
    seed_end = row_end[0]
    return ReplayPlan(
        spec=_band(sample),
        seed=commands[:seed_end],
        commands=commands[seed_end:],
        row_end=row_end - seed_end,
        expected_contra=np.array(plan.contra[seed_end:], np.int64),
        skipped=skipped,
        inferred_orders=plan.inferred_orders + len(terms) - len(unplaced),
        inferred_volume=plan.inferred_volume,
        removed_volume=plan.removed_volume,
    )


def lobster_commands(
    message_csv: str | Path, orderbook_csv: str | Path
) -> tuple[BookSpec, np.ndarray, np.ndarray]:
    """Return the book spec, the seed commands and the message commands of a LOBSTER sample."""
    plan = plan_replay(read_lobster(message_csv, orderbook_csv))
    return plan.spec, plan.seed, plan.commands


ACCEPTED, TRADE, CANCELLED, REPLACED = (
    int(k) for k in (EventKind.ACCEPTED, EventKind.TRADE, EventKind.CANCELLED, EventKind.REPLACED)
)


@njit(cache=True)
def _change(ladder, count, best, s, at, delta):  # pragma: no cover
    """Add delta shares to level `at` of side s (0 buy, 1 sell), keeping the count of non-empty
    levels and the best one (bids: highest index, asks: lowest; off the ladder when empty)."""
    before = ladder[s, at]
    ladder[s, at] = before + delta
    if before == 0:
        count[s] += 1
        if (s == 0 and at > best[s]) or (s == 1 and at < best[s]):
            best[s] = at
    elif ladder[s, at] == 0:
        count[s] -= 1
        if at == best[s]:
            step = -1 if s == 0 else 1
            while count[s] and ladder[s, best[s]] == 0:
                best[s] += step
            if not count[s]:
                best[s] = -1 if s == 0 else ladder.shape[1]


@njit(cache=True)
def _take(ladder, count, best, open_qty, where, oid, quantity):  # pragma: no cover
    """Take quantity off a resting order and its level."""
    at = where[oid]
    _change(ladder, count, best, at % 2, at // 2, -quantity)
    open_qty[oid] -= quantity
    if open_qty[oid] == 0:
        del open_qty[oid]
        del where[oid]


@njit(cache=True)
def _top_row(ladder, count, best, lo, tick, row):  # pragma: no cover
    """Write the top N levels of both sides in the orderbook file's layout into row."""
    n = len(row) // 4
    row[0::4] = EMPTY_ASK
    row[1::4] = 0
    row[2::4] = -EMPTY_ASK
    row[3::4] = 0
    for s, step, col in ((1, 1, 0), (0, -1, 2)):
        at, k = best[s], 0
        while k < min(n, count[s]):
            if ladder[s, at]:
                row[4 * k + col] = lo + at * tick
                row[4 * k + col + 1] = ladder[s, at]
                k += 1
            at += step


@njit(cache=True)
def _check_rows(kind, side, order_id, contra, price, quantity, command, seed_events, row_end,
                expected, lo, tick, ticks, bad, first):  # fmt: skip  # pragma: no cover
    """Rebuild both sides' levels from an engine's events and compare the top N with the rows.

    The first seed_events events are the seed's; the day's events carry their command index,
    and row i is complete after command row_end[i] - 1. Sets bad[i] where row i differs and
    writes our first differing row into `first`; returns that row's index (0: none).
    """
    ladder = np.zeros((2, ticks), np.int64)
    count = np.zeros(2, np.int64)
    best = np.array([-1, ticks], np.int64)
    open_qty = Dict.empty(key_type=types.int64, value_type=types.int64)
    where = Dict.empty(key_type=types.int64, value_type=types.int64)
    row = np.zeros(expected.shape[1], np.int64)
    first_row = 0
    i = 1
    for k in range(len(kind) + 1):
        while (
            k >= seed_events and i < len(row_end) and (k == len(kind) or command[k] >= row_end[i])
        ):
            _top_row(ladder, count, best, lo, tick, row)
            if (row != expected[i]).any():
                bad[i] = True
                if not first_row:
                    first_row = i
                    first[:] = row
            i += 1
        if k == len(kind):
            break
        e, oid = kind[k], order_id[k]
        if e == ACCEPTED:
            at = (price[k] - lo) // tick
            open_qty[oid] = quantity[k]
            where[oid] = 2 * at + side[k]
            _change(ladder, count, best, side[k], at, quantity[k])
        elif e == TRADE:
            _take(ladder, count, best, open_qty, where, oid, quantity[k])
            _take(ladder, count, best, open_qty, where, contra[k], quantity[k])
        elif e == CANCELLED and oid in open_qty:
            _take(ladder, count, best, open_qty, where, oid, quantity[k])
        elif e == REPLACED:
            _take(ladder, count, best, open_qty, where, oid, open_qty[oid])
            at = (price[k] - lo) // tick
            open_qty[oid] = quantity[k]
            where[oid] = 2 * at + side[k]
            _change(ladder, count, best, side[k], at, quantity[k])
    return first_row


def _agreed(plan: ReplayPlan, events: np.ndarray) -> np.ndarray:
    """Return, per execution of the plan, whether the engine's IOC order hit Nasdaq's order,
    and only it, for the whole size."""
    executions = np.flatnonzero(plan.expected_contra)
    trades = events[events["kind"] == EventKind.TRADE]
    if not len(trades):
        return np.zeros(len(executions), bool)
    fills = np.bincount(trades["command"], minlength=len(plan.commands))[executions]
    at = np.searchsorted(trades["command"], executions).clip(max=len(trades) - 1)
    return (
        (fills == 1)
        & (trades["contra_order_id"][at] == plan.expected_contra[executions])
        & (trades["quantity"][at] == plan.commands["quantity"][executions])
    )


def replay(
    sample: LobsterSample,
    engines: dict[str, Callable[[list[BookSpec]], MatchingEngine]],
    levels: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Replay a sample through each engine in one batch call and compare every row.

    Each engine gets the seed, then the day's commands in one `process` call (timed:
    commands_per_s); the levels its events build are compared with the top N of every
    orderbook row, and its state hash with the other engines'. Returns the report: rows,
    checked, skipped (reason -> count), mismatched_rows (rows where any engine differs from the
    file), mismatches (engine -> rows it differs on), executions, realigned_executions (those
    where an engine hit another resting order than Nasdaq's; the plan then re-enters the level
    in Nasdaq's order), execution_agreement, engines_agree, commands_per_s and details of the
    first mismatch. `progress(done, total)` is called after each engine.
    """
    levels = min(levels or sample.levels, sample.levels)
    plan = plan_replay(sample)
    expected_rows = sample.book[:, : 4 * levels].copy()
    expected_rows[:, 0::4] = np.where(expected_rows[:, 1::4] > 0, expected_rows[:, 0::4], EMPTY_ASK)
    expected_rows[:, 2::4] = np.where(
        expected_rows[:, 3::4] > 0, expected_rows[:, 2::4], -EMPTY_ASK
    )
    mismatched = np.zeros(len(sample), bool)
    realigned = np.zeros(np.count_nonzero(plan.expected_contra), bool)
    mismatches, rates, hashes = {}, {}, set()
    first_mismatch: dict = {}
    for done, (name, make) in enumerate(engines.items(), 1):
        engine = make([plan.spec])
        seed_events = engine.process(plan.seed)
        start = time.perf_counter()
        events = engine.process(plan.commands)
        rates[name] = round(len(plan.commands) / max(time.perf_counter() - start, 1e-9))
        hashes.add(engine.state_hash())
        both = np.concatenate([seed_events, events])
        bad, ours = np.zeros(len(sample), bool), np.zeros(4 * levels, np.int64)
        row = _check_rows(
            *(both[field] for field in ("kind", "side", "order_id", "contra_order_id", "price",
                                        "quantity", "command")),
            len(seed_events), plan.row_end, expected_rows, plan.spec.lo, plan.spec.tick,
            plan.spec.levels, bad, ours,
        )  # fmt: skip
        mismatches[name] = int(bad.sum())
        mismatched |= bad
        realigned |= ~_agreed(plan, events)
        if row and (not first_mismatch or row < first_mismatch["row"]):
            first_mismatch = {
                "row": row,
                "engine": name,
                "ours": ours.tolist(),
                "file": expected_rows[row].tolist(),
            }
        if progress:
            progress(done, len(engines))
    executions = len(realigned)
    report: dict = {
        "rows": len(sample),
        "levels": levels,
        "checked": len(sample) - 1,
        "skipped": plan.skipped,
        "mismatched_rows": int(mismatched.sum()),
        "mismatches": mismatches,
        "executions": executions,
        "realigned_executions": int(realigned.sum()),
        "execution_agreement": round(float(1 - realigned.mean()), 6) if executions else 1.0,
        "inferred_orders": plan.inferred_orders,
        "inferred_volume": plan.inferred_volume,
        "removed_volume": plan.removed_volume,
        "engines_agree": len(hashes) == 1,
        "commands_per_s": rates,
    }
    if first_mismatch:
        report["first_mismatch"] = first_mismatch
    return report


def record_lobster(flow: Flow, levels: int, seed: int = 0) -> LobsterSample:
    """Run a flow through the numba engine and record it as a level-N LOBSTER sample.

    The seed is the pre-open book (no messages). Replaces are left out (Nasdaq gives a
    repriced order a new id) and every order gets its own owner (no self-trade prevention).
    A message is kept when it changes the top N levels of either side, as in a level-N file;
    order ids are shuffled (seeded), so their order says nothing about time. Times start at
    9:30 (34,200 s after midnight).
    """
    pre_open, stream = flow.seed.copy(), flow.commands[flow.commands["kind"] != CommandKind.REPLACE]
    stream = stream.copy()
    for rows in (pre_open, stream):
        rows["owner"] = rows["order_id"] % (1 << 30) + 1
    engine = NumbaEngine([flow.spec])
    opening = engine.process(pre_open)
    events = engine.process(stream)
    top_id = int(max(pre_open["order_id"].max(initial=0), stream["order_id"].max(initial=0)))
    ids = np.random.default_rng(seed).permutation(top_id) + 1
    quantity: tuple[dict[int, int], dict[int, int]] = ({}, {})
    prices = (SortedList(), SortedList())

    def change(side: int, price: int, delta: int) -> None:
        level = quantity[side].get(price, 0) + delta
        if price not in quantity[side]:
            prices[side].add(price)
        quantity[side][price] = level
        if not level:
            del quantity[side][price]
            prices[side].remove(price)

    def view() -> list[int]:
        row = [EMPTY_ASK, 0, -EMPTY_ASK, 0] * levels
        for j, price in enumerate(prices[Side.SELL][:levels]):
            row[4 * j : 4 * j + 2] = price, quantity[Side.SELL][price]
        for j, price in enumerate(reversed(prices[Side.BUY][-levels:])):
            row[4 * j + 2 : 4 * j + 4] = price, quantity[Side.BUY][price]
        return row

    accepted = opening[opening["kind"] == EventKind.ACCEPTED]
    for side, price, size in zip(*(accepted[c].tolist() for c in ("side", "price", "quantity")),
                                 strict=True):  # fmt: skip
        change(side, price, size)
    messages: list[tuple[int, ...]] = []
    books: list[list[int]] = []
    shown = view()

    def emit(at: int, kind: int, oid: int, size: int, price: int, side: int) -> None:
        nonlocal shown
        change(side, price, size if kind == SUBMIT else -size)
        row = view()
        if row != shown:
            messages.append(
                (at, kind, int(ids[oid - 1]), size, price, 1 if side == Side.BUY else -1)
            )
            books.append(row)
            shown = row

    names = ("kind", "order_id", "contra_order_id", "price", "quantity", "leaves", "side",
             "command", "timestamp")  # fmt: skip
    resting = None  # (command, the submission's emit arguments) of a DAY order not done matching
    day = (stream["tif"] == TimeInForce.DAY).tolist()
    cancels = (stream["kind"] == CommandKind.CANCEL).tolist()
    for kind, oid, contra, price, size, leaves, side, command, at in zip(
        *(events[name].tolist() for name in names), strict=True
    ):
        if resting and resting[0] != command:
            emit(*resting[1])
            resting = None
        if kind == EventKind.ACCEPTED and day[command]:
            resting = command, (at, SUBMIT, oid, leaves, price, side)
        elif kind == EventKind.TRADE:
            emit(at, EXECUTE, contra, size, price, 1 - side)
            if resting:
                resting = (command, (at, SUBMIT, oid, leaves, price, side)) if leaves else None
        elif kind == EventKind.CANCELLED and cancels[command]:
            emit(at, DELETE, oid, size, price, side)
    if resting:
        emit(*resting[1])
    table = np.array(messages, np.int64).reshape(-1, 6)
    return LobsterSample(
        time_ns=34_200 * 1_000_000_000 + table[:, 0],
        kind=table[:, 1],
        order_id=table[:, 2],
        size=table[:, 3],
        price=table[:, 4],
        direction=table[:, 5],
        book=np.array(books, np.int64).reshape(len(table), 4 * levels),
    )


def write_lobster(
    sample: LobsterSample, message_csv: str | Path, orderbook_csv: str | Path
) -> None:
    """Write a sample as a LOBSTER message file and orderbook file (no header line)."""
    seconds = sample.time_ns / 1e9
    columns = (sample.kind, sample.order_id, sample.size, sample.price, sample.direction)
    np.savetxt(message_csv, np.column_stack([seconds, *columns]), fmt=["%.9f"] + ["%d"] * 5,
               delimiter=",")  # fmt: skip
    np.savetxt(orderbook_csv, sample.book, fmt="%d", delimiter=",")
