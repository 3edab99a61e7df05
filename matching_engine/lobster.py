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

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sortedcontainers import SortedList

from matching_engine.api import BookSpec, MatchingEngine
from matching_engine.commands import batch, cancel, new
from matching_engine.dtypes import COMMAND_DTYPE, CommandKind, EventKind, Side, TimeInForce

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


def _read_csv(path: Path) -> np.ndarray:
    with open(path) as handle:
        first = handle.readline()
    header = 1 if re.search(r"[A-Za-z]", first) else 0
    return np.atleast_2d(np.loadtxt(path, delimiter=",", skiprows=header, dtype=np.float64))


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
    messages = _read_csv(message_csv)
    book = _read_csv(orderbook_csv)
    if messages.shape[1] < 6:
        raise ValueError(f"{message_csv}: {messages.shape[1]} columns, a message file has 6")
    if book.shape[1] % 4:
        raise ValueError(f"{orderbook_csv}: {book.shape[1]} columns, not a multiple of 4")
    if len(book) != len(messages):
        raise ValueError(f"{len(messages)} messages but {len(book)} orderbook rows")
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
    queue_after: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
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


def _unsubmitted(sample: LobsterSample) -> tuple[dict[int, list[int]], dict[int, tuple]]:
    """Place the orders the file mentions but never submits; return where, and their terms.

    A level-N file holds only messages that touch the top N levels, so an order submitted
    deeper appears first when it is cancelled or executed. Order ids rise with time, so such an
    order was submitted before the file's submission of the next larger id and before its
    first mention, while its level was out of sight: it is placed after the last message
    before then whose orderbook row does not show its level (the pre-open seed if none).

    Returns ({message index: [order id, ...]}, {order id: (side, price, total quantity)}).
    """
    known_at = np.flatnonzero(sample.kind == SUBMIT)
    known_ids = sample.order_id[known_at]
    order = np.argsort(known_ids, kind="stable")
    known_ids, known_at = known_ids[order], known_at[order]
    submitted = set(known_ids.tolist())
    first: dict[int, int] = {}
    terms: dict[int, tuple] = {}
    for i in np.flatnonzero(np.isin(sample.kind, (PARTIAL_CANCEL, DELETE, EXECUTE))):
        oid = int(sample.order_id[i])
        if oid in submitted:
            continue
        first.setdefault(oid, int(i))
        quantity = terms[oid][2] if oid in terms else 0
        terms[oid] = (
            _side(int(sample.direction[i])),
            int(sample.price[i]),
            quantity + int(sample.size[i]),
        )
    visible: dict[int, dict] = {}
    placed: dict[int, list[int]] = {}
    for oid in sorted(first):
        k = int(np.searchsorted(known_ids, oid))
        end = min(int(known_at[k]) if k < len(known_ids) else len(sample), first[oid]) - 1
        level = terms[oid][:2]
        at = end
        while at >= 0 and level in visible.setdefault(at, _visible(sample.book[at])):
            at -= 1
        placed.setdefault(at + 1, []).append(oid)
    return placed, terms


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
        self.queue_after: dict[int, list[tuple[int, int]]] = {}  # execution row -> its level
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

    def reconcile(self, i: int, shown_before: dict, at: int) -> None:
        """Make levels that come into the file's view at row i hold what the row shows.

        Volume the messages do not explain was submitted unseen while the level was deep: it
        rests as an inferred order. Volume the row does not show was cancelled unseen: orders
        there holding more than later messages take off them are reduced (or cancelled) by
        that excess, oldest first.
        """
        shown = _visible(self.sample.book[i])
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
        cut_total = 0
        for oid, quantity in [tuple(e) for e in self.levels[side, price]]:
            if oid == before or cut_total == volume:
                break
            cut = min(quantity - self.to_come.get(oid, 0), volume - cut_total)
            if cut <= 0:
                continue
            left = self.take(oid, cut, mentioned=False)
            kind = CommandKind.REPLACE if left else CommandKind.CANCEL
            self.emit(kind, oid, RESTING_OWNER, side, price, left, 0, at)
            cut_total += cut
        self.removed_volume += cut_total
        return cut_total

    def clear_ahead(self, oid: int, at: int) -> None:
        """Before an execution of oid, requeue stale volume ahead of it to the back.

        Shares ahead of the executed order that no later message takes off were cancelled
        unseen while the level was deep; the level's total says as many were added unseen
        meanwhile, so they rest again as an inferred order at the back.
        """
        side, price = self.where[oid]
        moved = self.drop_stale(side, price, 1 << 62, at, before=oid)
        if moved:
            self.infer(side, price, moved, at)


def plan_replay(sample: LobsterSample) -> ReplayPlan:
    """Turn a sample into the pre-open seed and the day's commands, inferred orders included."""
    placed, terms = _unsubmitted(sample)
    plan = _Planner(sample)
    skipped: dict[str, int] = {}
    row_end = np.zeros(len(sample), np.int64)
    previous: dict = {}
    for i in range(len(sample)):
        kind, oid = int(sample.kind[i]), int(sample.order_id[i])
        size, price, at = int(sample.size[i]), int(sample.price[i]), int(sample.time_ns[i])
        side = _side(int(sample.direction[i]))
        for unseen in placed.get(i, []):
            plan.rest(unseen, *terms[unseen], at)
        if kind in (PARTIAL_CANCEL, DELETE, EXECUTE) and oid in plan.where:
            if kind == EXECUTE:
                plan.clear_ahead(oid, at)
            left = plan.take(oid, size)
            plan.reconcile(i, previous, at)
            if kind == EXECUTE:
                plan.queue_after[len(plan.rows)] = [
                    tuple(e) for e in plan.levels.get((side, price), [])
                ]
                plan.emit(CommandKind.NEW, plan.next_id, AGGRESSOR_OWNER, 1 - side, price, size,
                          TimeInForce.IOC, at, contra=oid)  # fmt: skip
                plan.next_id += 1
            else:
                command = CommandKind.REPLACE if left > 0 else CommandKind.CANCEL
                plan.emit(command, oid, RESTING_OWNER, side, price, left, 0, at)
        elif kind == SUBMIT:
            plan.rest(oid, side, price, size, at)
            plan.reconcile(i, previous, at)
        else:
            reason = SKIPPED.get(kind, f"unknown_message_type_{kind}")
            if kind in (PARTIAL_CANCEL, DELETE, EXECUTE):
                reason = "unknown_order_id"
            skipped[reason] = skipped.get(reason, 0) + 1
            plan.reconcile(i, previous, at)
        previous = _visible(sample.book[i])
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
        queue_after={c - seed_end: queue for c, queue in plan.queue_after.items()},
        skipped=skipped,
        inferred_orders=plan.inferred_orders + len(terms),
        inferred_volume=plan.inferred_volume,
        removed_volume=plan.removed_volume,
    )


def lobster_commands(
    message_csv: str | Path, orderbook_csv: str | Path
) -> tuple[BookSpec, np.ndarray, np.ndarray]:
    """Return the book spec, the seed commands and the message commands of a LOBSTER sample."""
    plan = plan_replay(read_lobster(message_csv, orderbook_csv))
    return plan.spec, plan.seed, plan.commands


def _top(engine: MatchingEngine, levels: int) -> np.ndarray:
    row = np.zeros(4 * levels, np.int64)
    row[0::4] = EMPTY_ASK
    row[2::4] = -EMPTY_ASK
    for j, level in enumerate(engine.depth(0, Side.SELL, levels)):
        row[4 * j], row[4 * j + 1] = level.price, level.quantity
    for j, level in enumerate(engine.depth(0, Side.BUY, levels)):
        row[4 * j + 2], row[4 * j + 3] = level.price, level.quantity
    return row


def replay(
    sample: LobsterSample,
    engines: dict[str, Callable[[list[BookSpec]], MatchingEngine]],
    levels: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Replay a sample through each engine, compare every row, and time one batch call each.

    Returns the report: rows, checked, skipped (reason -> count), mismatches,
    execution_agreement, commands_per_s (per engine) and details of the first mismatch.
    `progress(done, total)` is called every 5,000 rows.
    """
    levels = min(levels or sample.levels, sample.levels)
    plan = plan_replay(sample)
    expected_rows = sample.book[:, : 4 * levels].copy()
    expected_rows[:, 0::4] = np.where(expected_rows[:, 1::4] > 0, expected_rows[:, 0::4], EMPTY_ASK)
    expected_rows[:, 2::4] = np.where(
        expected_rows[:, 3::4] > 0, expected_rows[:, 2::4], -EMPTY_ASK
    )
    report: dict = {"rows": len(sample), "levels": levels}
    mismatches = 0
    first_mismatch = None
    agreements = executions = 0
    live = {name: make([plan.spec]) for name, make in engines.items()}
    for engine in live.values():
        engine.process(plan.seed)
    realigned = 0
    for i in range(1, len(sample)):
        lo, hi = plan.row_end[i - 1], plan.row_end[i]
        if progress and i % 5000 == 0:
            progress(i, len(sample))
        for name, engine in live.items():
            events = engine.process(plan.commands[lo:hi])
            for c in np.flatnonzero(plan.expected_contra[lo:hi]):
                trades = events[(events["kind"] == EventKind.TRADE) & (events["command"] == c)]
                agreed = bool(
                    len(trades) == 1
                    and trades[0]["contra_order_id"] == plan.expected_contra[lo + c]
                    and trades[0]["quantity"] == plan.commands[lo + c]["quantity"]
                )
                if name == next(iter(live)):
                    executions += 1
                    agreements += agreed
                    realigned += not agreed
                if not agreed:
                    _realign(engine, plan.commands[lo + c], plan.queue_after[lo + c])
            ours = _top(engine, levels)
            if not np.array_equal(ours, expected_rows[i]):
                mismatches += 1
                if first_mismatch is None:
                    first_mismatch = {
                        "row": i,
                        "engine": name,
                        "ours": ours.tolist(),
                        "file": expected_rows[i].tolist(),
                    }
    hashes = {engine.state_hash() for engine in live.values()}
    report.update(
        checked=len(sample) - 1,
        skipped=plan.skipped,
        mismatches=mismatches,
        execution_agreement=agreements / executions if executions else 1.0,
        executions=executions,
        inferred_orders=plan.inferred_orders,
        inferred_volume=plan.inferred_volume,
        removed_volume=plan.removed_volume,
        realigned_levels=realigned,
        engines_agree=len(hashes) == 1,
        commands_per_s=time_batch(plan, engines),
    )
    if first_mismatch:
        report["first_mismatch"] = first_mismatch
    return report


def _realign(engine: MatchingEngine, execution: np.ndarray, queue: list[tuple[int, int]]) -> None:
    """Make the level an execution hit hold the orders LOBSTER says, in LOBSTER's order.

    Used only after the engine's price-time priority chose another resting order than the
    exchange did (counted as a disagreement); the level is cancelled and entered again.
    """
    resting = Side(1 - int(execution["side"]))
    price = int(execution["price"])
    rows = [o for o in engine.orders(0, resting) if o.price == price]
    fix = [cancel(o.order_id, owner=RESTING_OWNER) for o in rows]
    fix += [new(oid, resting, price, qty, owner=RESTING_OWNER) for oid, qty in queue]
    engine.process(batch(*fix))


def time_batch(
    plan: ReplayPlan, engines: dict[str, Callable[[list[BookSpec]], MatchingEngine]]
) -> dict[str, float]:
    """Return each engine's commands per second for the message stream in one batch call."""
    rates = {}
    for name, make in engines.items():
        engine = make([plan.spec])
        engine.process(plan.seed)
        start = time.perf_counter()
        engine.process(plan.commands)
        rates[name] = round(len(plan.commands) / (time.perf_counter() - start))
    return rates
