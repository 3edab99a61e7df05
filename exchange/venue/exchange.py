"""The Exchange: one API for the simulator and the gateway over a board's venue.

    exchange = Exchange("star", listings, participants, journal="day.tbj")
    exchange.deposit(0, 1_000_000 * CNY); exchange.issue(0, 1, 50_000)
    exchange.open_day(date)
    events = exchange.submit(batch)          # ORDER_DTYPE in, VENUE_EVENT_DTYPE out
    exchange.last_fees, exchange.last_market_data   # that call's fee items and market data
    statements = exchange.end_of_day()

Data flow of `submit`: the batch is journaled (one record, fsync) before anything else; the
session clock then moves to each command's timestamp, crossing phase boundaries as the board's
timeline says (SET_PHASE, UNCROSS and CLEAR for every book, held pre-open orders released), and
exchange.kernel.run_batch takes the commands between boundaries: venue checks, reservations,
the matching core, fills with fees, releases and market data, all in one numba call. Session
events carry command -1. Participant ids are 0..P-1 and instruments are numbered by listing
order (`symbols`). Units: prices in price units (1/10000 CNY), cash and fees in 1/10000 CNY,
quantities in shares (bonds), times in ns UTC. docs/exchange.md describes the API and figures.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from exchange.clearing.accounts import Participant
from exchange.clearing.settlement import Settlement, Statement
from exchange.dtypes import ORDER_DTYPE, MarketDataKind, VenueEventKind
from exchange.fees.schedule import load_schedule
from exchange.mechanisms.desk import Desk
from exchange.mechanisms.obligations import ObligationReport
from exchange.mechanisms.registry import mechanism
from exchange.reasons import VenueReason
from exchange.rules.boards import Board, load_board
from exchange.rules.calendar import TradingCalendar
from exchange.rules.halts import Halt, Halts, VolatilityHalts
from exchange.rules.order_entry import price_limits
from exchange.rules.sessions import PhaseSpan, phase_at, timeline
from exchange.venue import kernel as k
from exchange.venue.journal import Durability, JournalReader, JournalWriter, Record, TornTail
from exchange.venue.market_data import DayStats, Snapshot, closing_price, day_stats, minute_bars
from exchange.venue.market_data import snapshot as book_snapshot
from exchange.venue.state import PAYEES, VenueState
from instruments.lifecycle import Conversion, Payment, SharesDistributed
from matching_engine.api import BookSpec
from matching_engine.book import NO_PERCENTS, NumbaEngine
from matching_engine.commands import batch as command_batch
from matching_engine.commands import clear, set_phase, uncross
from matching_engine.dtypes import COMMAND_DTYPE, EventKind, Phase, Side, TieBreak, copied, zeroed

LOG = logging.getLogger(__name__)
CALL = int(Phase.CALL)  # a plain int: an IntEnum in an array comparison is slow
BAND_MULTIPLE = 20  # a book's band without price limits: [tick, 20 x the previous close]
AFTER_HOURS = "after_hours"  # the phase whose fixed-price orders trade at the close


@dataclasses.dataclass(frozen=True)
class Listing:
    """A listed instrument: symbol, class on the board, previous close (price units).

    listed: its first trading day (None: listed long before, no first-days rules); issuer: the
    participant paying its coupons and dividends; underlying: a convertible bond's share symbol.
    """

    symbol: str
    instrument_class: str
    previous_close: int
    listed: datetime.date | None = None
    issuer: int | None = None
    underlying: str | None = None


class Exchange:
    """A board's venue: accounts, books, fees, clearing, market data and journal behind one API."""

    def __init__(
        self,
        board: str | Path,
        listings: Sequence[Listing],
        participants: Sequence[Participant],
        calendar: str | Path = "cn",
        journal: str | Path | None = None,
        fsync: bool | None = None,
        capacity: int = 1 << 14,
        durability: Durability = "fsync",
    ) -> None:
        """Open the venue of a board (preset name or TOML file) with its instruments and members.

        journal: a path to write every accepted call to before it acts (None: no journal);
        durability: what each call's record survives once the call returns (journal.py,
        docs/exchange.md: "fsync", the default, "flush", "buffer"); fsync=False is the older
        spelling of durability="flush". Raise MechanismNotAvailable for an instrument whose
        class trades by an unregistered mechanism, ValueError for ids not 0..P-1.
        """
        if [p.id for p in participants] != list(range(len(participants))):
            raise ValueError("participant ids must be 0, 1, ..., n-1 in order")
        self.board: Board = load_board(board)
        self.calendar = TradingCalendar.load(calendar)
        self.listings = tuple(listings)
        self.participants = tuple(participants)
        self.symbols = {listing.symbol: i for i, listing in enumerate(self.listings)}
        self.rules = [self.board.rules(x.instrument_class) for x in self.listings]
        for rules in self.rules:
            mechanism(rules.mechanism)
        self.fee_schedule = schedule = load_schedule(self.board.fee_schedule)
        self.fee_components = tuple(schedule.components)
        self.payees = PAYEES
        tie = TieBreak[self.board.tie_break]
        self.engine = NumbaEngine(  # one-level ladders until the first day sets their bands
            [BookSpec(r.tick, r.tick, r.tick, tie, Phase.HALTED) for r in self.rules], capacity
        )
        self.state = VenueState.create(
            self.board,
            schedule,
            self.rules,
            [x.previous_close for x in self.listings],
            self.participants,
            capacity,
        )
        n, p = len(self.listings), len(self.participants)
        self.settlement = Settlement(np.zeros(p, np.int64), np.zeros((p, n), np.int64))
        self.day: datetime.date | None = None
        self.spans: tuple[PhaseSpan, ...] = ()
        self._boundaries: list[int] = []
        self._close_time = 0  # ns UTC: the day's close is fixed then (the last matching span's end)
        self._fixed = np.zeros(0, np.int64)  # fixed-price orders not yet traded, arrival order
        self.halts = Halts()  # every halt so far, volatility and manual
        self._volatility: list[VolatilityHalts] = []  # per instrument, the day's rules
        self._resumes: dict[int, list[int]] = {}  # ns UTC -> instruments whose halt ends then
        self.clock = 0
        self.last_events = self.last_fees = self.last_market_data = np.zeros(0)
        self._cc = np.zeros(0, COMMAND_DTYPE)
        self.core_log: list[np.ndarray] | None = None  # a list: keep the core rows sent (bench)
        self.closes: dict[int, int] = {}
        self.status: list[tuple[int, str]] = []  # (ns UTC, phase name or "closed"), in order
        names = sorted({rules.mechanism for rules in self.rules})
        venue = _DeskVenue(self)
        self.desks: list[Desk] = [d for d in (mechanism(n).attach(venue) for n in names) if d]
        self.screen = next((d.screen for d in self.desks if d.screen), None)  # before the kernel
        self._genesis = {
            "op": "genesis",
            "board": str(board),
            "calendar": str(calendar),
            "listings": [_plain(dataclasses.asdict(x)) for x in self.listings],
            "participants": [dataclasses.asdict(x) for x in self.participants],
            "capacity": capacity,
        }
        if fsync is not None:
            durability = "fsync" if fsync else "flush"
        self.journal = None if journal is None else JournalWriter(journal, durability)
        self.torn: TornTail | None = None
        if self.journal is not None and self.journal.next_seq == 1:
            self._record(self._genesis)

    # journal ------------------------------------------------------------------------------

    def _record(self, payload: dict[str, Any]) -> None:
        if self.journal is not None:
            self.journal.append(payload)
            self.journal.flush()

    @classmethod
    def replay(
        cls,
        path: str | Path,
        resume: bool = False,
        durability: Durability = "fsync",
        observe: Callable[[Exchange, Record], None] | None = None,
    ) -> Exchange:
        """Rebuild an Exchange from its journal, record by record.

        A torn tail (a crash mid-write) is not read: it is logged as a warning and kept in
        `torn`; resume=True cuts it and journals the Exchange's next calls to the same file,
        continuing its sequence numbers. Corruption before the end raises JournalError naming
        its byte offset, and nothing is rebuilt. observe(exchange, record) is called after each
        record after the genesis is applied (its events are in last_events), so the caller can
        rebuild what it keeps beside the venue.
        """
        reader = JournalReader(path)
        records = reader.records(allow_torn_tail=True)
        first = records[0].payload if records else None
        if not isinstance(first, dict) or first.get("op") != "genesis":
            raise ValueError(f"{path}: the journal does not start with a genesis record")
        if reader.torn is not None:
            LOG.warning("%s; replaying the %d whole records before it", reader.torn, len(records))
        g = records[0].payload
        exchange = cls(
            g["board"],
            [Listing(**_dated(x)) for x in g["listings"]],
            [Participant(**x) for x in g["participants"]],
            g["calendar"],
            capacity=g["capacity"],
        )
        for record in records[1:]:
            exchange._apply(record.payload)
            if observe is not None:
                observe(exchange, record)
        exchange.torn = reader.torn
        if resume:
            exchange.journal = JournalWriter(path, durability, truncate_torn_tail=True)
        return exchange

    def _apply(self, op: dict[str, Any]) -> Any:
        name = op["op"]
        if name == "submit":
            return self._submit(np.frombuffer(op["rows"], ORDER_DTYPE).copy())
        if name == "open_day":
            return self._open_day(datetime.date.fromisoformat(op["date"]))
        if name == "advance":
            return self._advance(op["ns"])
        if name == "end_of_day":
            return self._end_of_day()
        if name == "deposit":
            return self._deposit(op["participant"], op["amount"])
        if name == "issue":
            return self._issue(op["instrument"], op["participant"], op["quantity"])
        if name == "halt":
            return self._halt(op["instrument"], op["halted"], op["ns"])
        if name == "lifecycle":
            return self._lifecycle(op["event"], op["fields"])
        for desk in self.desks:
            if name in desk.operations:
                return desk.operations[name](op)
        raise ValueError(f"unknown journal operation {name!r}")

    def _call(self, op: dict[str, Any]) -> Any:
        """Journal an operation, then apply it (write-ahead: nothing answered is lost)."""
        self._record(op)
        return self._apply(op)

    # set-up -------------------------------------------------------------------------------

    def deposit(self, participant: int, amount: int) -> int:
        """Add cash (1/10000 CNY); return a reason code (0: done)."""
        return self._call({"op": "deposit", "participant": participant, "amount": amount})

    def _deposit(self, participant: int, amount: int) -> int:
        if not 0 <= participant < len(self.participants):
            return VenueReason.UNKNOWN_PARTICIPANT
        if amount <= 0:
            return VenueReason.INVALID_AMOUNT
        self.state.par[participant, k.CASH] += amount
        self.settlement.settled_cash[participant] += amount
        return 0

    def issue(self, instrument: int, participant: int, quantity: int) -> int:
        """Credit newly issued shares (bonds); acquired today, or long ago before the first day."""
        op = {"op": "issue", "instrument": instrument, "participant": participant}
        return self._call({**op, "quantity": quantity})

    def _issue(self, instrument: int, participant: int, quantity: int) -> int:
        s = self.state
        if not 0 <= participant < len(self.participants):
            return VenueReason.UNKNOWN_PARTICIPANT
        if not 0 <= instrument < len(self.listings):
            return VenueReason.UNKNOWN_INSTRUMENT
        if quantity <= 0:
            return VenueReason.INVALID_AMOUNT
        row, issuer = s.ins[instrument], s.par[participant, k.KIND] == k.ISSUER
        counted = self._counted(participant, instrument)
        if not issuer and not counted and row[k.CAP] >= 0:
            pending = s.pos[participant, instrument, k.LIVE_BUY] > 0
            if not pending and row[k.COUNTED] + row[k.PENDING] >= row[k.CAP]:
                return VenueReason.HOLDER_CAP_REACHED
        if not issuer and not counted:
            row[k.COUNTED] += 1
            row[k.PENDING] -= s.pos[participant, instrument, k.LIVE_BUY] > 0
        cell = s.pos[participant, instrument]
        cell[k.POS] += quantity
        cell[k.EVER] = 1
        if self.day is not None:
            cell[k.ACQ + s.g[k.G_DAY] % (len(cell) - k.ACQ)] += quantity
        self.settlement.settled_shares[participant, instrument] += quantity
        return 0

    def _counted(self, participant: int, instrument: int) -> bool:
        cell, row = self.state.pos[participant, instrument], self.state.ins[instrument]
        return bool(cell[k.POS] > 0 if row[k.CAP_CURRENT] else cell[k.EVER])

    # the trading day ----------------------------------------------------------------------

    def open_day(self, day: datetime.date) -> None:
        """Start a trading day: settle what is due, set price limits, reset the day's data."""
        if self.day is not None:
            raise RuntimeError(f"day {self.day} is still open: call end_of_day first")
        self.calendar.day_number(day)  # ValueError on a closed day, before it is journaled
        self._call({"op": "open_day", "date": day.isoformat()})

    def _open_day(self, day: datetime.date) -> None:
        s, number = self.state, self.calendar.day_number(day)
        self._volatility = []
        previous = int(s.g[k.G_DAY]) if self.closes else number - 1
        s.g[k.G_DAY] = number
        self.settlement.settle(number)
        ring = s.pos.shape[2] - k.ACQ
        for d in range(max(previous + 1, number - ring + 1), number + 1):
            s.pos[:, :, k.ACQ + d % ring] = 0
        bands: list[tuple[int, int]] = [(0, 0)] * len(self.listings)
        for i, (rules, listing) in enumerate(zip(self.rules, self.listings, strict=True)):
            row = s.ins[i]
            if i in self.closes:
                row[k.PREV_CLOSE] = self.closes[i]
            listing_day = 1 + (
                self.calendar.between(listing.listed, day) if listing.listed else 10_000
            )
            previous_close = int(row[k.PREV_CLOSE])
            limits = price_limits(rules, previous_close, listing_day)
            row[k.LIM_LO], row[k.LIM_HI] = bands[i] = _band(rules.tick, previous_close, limits)
            row[k.OPEN : k.TRADES + 1] = 0
            row[[k.RING, k.AUCTION_PRICE, k.AUCTION_VOLUME, k.LAST, k.HALT_PRICE, k.CLOSE]] = 0
            row[k.HALTED] &= ~k.VOLATILITY
            volatility = VolatilityHalts(
                rules.halts, self.calendar, day, listing_day, previous_close
            )
            row[[k.HALT_UP, k.HALT_DOWN]] = volatility.thresholds()
            self._volatility.append(volatility)
        self._resumes = {}
        self._ladders(bands)
        s.par[:, [k.DUE_CASH, k.BOUGHT, k.SOLD, k.FEES_PAID]] = 0
        s.pos[:, :, k.DUE_SH] = 0
        s.bars[:] = 0
        self.day = day
        self.spans = timeline(self.board, self.calendar, day)
        self._boundaries = sorted({t for span in self.spans for t in (span.start, span.end)})
        self._close_time = max(
            (span.end for span in self.spans if span.core_phase != Phase.HALTED),
            default=self.spans[-1].end,
        )
        self._fixed = self._fixed[:0]
        s.g[k.G_BAR_START] = self.spans[0].start
        self.clock = self.spans[0].start - 1
        s.sp[:] = 0

    def _ladders(self, bands: list[tuple[int, int]]) -> None:
        """Give each book a price ladder over its band of the day. Every order is a day order,
        so the books are empty between days and a new engine replaces the old one: memory
        follows the day's band, not the widest band a price could ever reach."""
        old = self.engine
        if old.resting():  # cannot happen between days; keep the ladders
            return
        specs = [
            BookSpec(lo, hi, spec.tick, spec.tie_break, old.phase(b))
            for b, ((lo, hi), spec) in enumerate(zip(bands, old.specs, strict=True))
        ]
        if specs != list(old.specs):
            self.engine = NumbaEngine(specs, old.capacity)

    def advance(self, ns: int) -> np.ndarray:
        """Move the session clock to ns (ns UTC) and return the session events on the way."""
        self._check_clock(ns)
        return self._call({"op": "advance", "ns": int(ns)})

    def _check_clock(self, ns: int) -> None:
        """Raise unless a day is open and ns is not before the session clock (nothing recorded)."""
        if self.day is None:
            raise RuntimeError("no trading day is open: call open_day first")
        if ns < self.clock:
            raise ValueError(f"time {ns} is before the session clock {self.clock}")

    def _advance(self, ns: int) -> np.ndarray:
        self._begin()
        self._cross(ns)
        return self._collect()

    def _next_time(self) -> int | None:
        """Return the first phase boundary or halt end after the clock (None: none left)."""
        later = [t for t in self._resumes if t > self.clock]
        i = bisect.bisect_right(self._boundaries, self.clock)  # the boundaries are sorted
        if i < len(self._boundaries):
            later.append(self._boundaries[i])
        return min(later, default=None)

    def _cross(self, ns: int) -> int | None:
        """Apply every halt end and phase boundary at or before ns, in time order; return the
        next one after ns (None: none left)."""
        t = self._next_time()
        while t is not None and t <= ns:
            self.clock = t
            if t in self._resumes:
                self._resume(t)
            if t in self._boundaries:
                self._transition(t)
            t = self._next_time()
        self.clock = ns
        return t

    def _resume(self, t: int) -> None:
        """End the volatility halts due at t: a book in continuous trading resumes by a call
        auction on the orders it holds; at a phase boundary the transition sets the phase."""
        rows = []
        span = phase_at(self.spans, t)
        target = span.core_phase if span else Phase.HALTED
        for b in self._resumes.pop(t):
            row = self.state.ins[b]
            row[k.HALTED] &= ~k.VOLATILITY
            if row[k.HALTED] or t in self._boundaries:
                continue
            if target == Phase.CONTINUOUS:
                reference = row[k.LAST] or row[k.PREV_CLOSE]
                rows.append(uncross(book=b, then=target, reference=reference, timestamp=t))
            elif self.engine.phase(b) != target:
                rows.append(set_phase(target, book=b, timestamp=t))
        if rows:
            self._run_internal(command_batch(*rows))

    def _check_volatility(self, ns: int) -> None:
        """Halt each instrument whose trade at ns reached a volatility rule; re-arm the rest."""
        ins = self.state.ins
        for b in np.flatnonzero(ins[:, k.HALT_PRICE]).tolist():
            rules = self._volatility[b]
            if rules.references["open"] == 0:
                rules.set_open(int(ins[b, k.OPEN]))
            halt = rules.on_trade(int(ins[b, k.HALT_PRICE]), ns)
            ins[b, k.HALT_PRICE] = 0
            ins[b, [k.HALT_UP, k.HALT_DOWN]] = rules.thresholds()
            if halt is not None:
                self._volatility_halt(b, halt)

    def _volatility_halt(self, b: int, halt: Halt) -> None:
        """Halt book b (cancels only) until halt.end, publishing the phase change."""
        self.halts.add(b, halt)
        self.state.ins[b, k.HALTED] |= k.VOLATILITY
        self._resumes.setdefault(halt.end, []).append(b)
        if self.engine.phase(b) != Phase.HALTED:
            self._run_internal(command_batch(set_phase(Phase.HALTED, book=b, timestamp=halt.start)))

    def _transition(self, t: int) -> None:
        """Switch every book from the span before t to the span from t (uncross, clear)."""
        before, after = phase_at(self.spans, t - 1), phase_at(self.spans, t)
        target = after.core_phase if after else Phase.HALTED
        rows = []
        for b in range(len(self.listings)):
            if not self.state.ins[b, k.HALTED]:
                if before is not None and before.uncross and before.end == t:
                    reference = self.state.ins[b, k.LAST] or self.state.ins[b, k.PREV_CLOSE]
                    rows.append(uncross(book=b, then=target, reference=reference, timestamp=t))
                elif self.engine.phase(b) != target:
                    rows.append(set_phase(target, book=b, timestamp=t))
            if after is None and t == self.spans[-1].end:
                rows.append(clear(book=b, timestamp=t))
        if rows:
            self._run_internal(command_batch(*rows))
        if after is not None and after.core_phase != Phase.HALTED:
            self._release_held(t)
        s = self.state
        if t == self._close_time:
            s.ins[:, k.CLOSE] = [closing_price(s.ins, s.ring, i) for i in range(len(self.listings))]
        day_end = after is None and t == self.spans[-1].end
        if day_end or AFTER_HOURS in (before and before.phase, after and after.phase):
            self._match_fixed(t, expire=day_end)
        self.status.append((t, after.phase if after else "closed"))
        sp = s.sp
        sp[:] = 0
        if after is not None:
            hold = after.core_phase == Phase.HALTED and bool(after.orders)
            sp[[k.S_OPEN, k.S_LIMIT, k.S_MARKET, k.S_CANCEL, k.S_CORE, k.S_HOLD, k.S_FIXED]] = (
                1, "limit" in after.orders, "market" in after.orders, after.cancel,
                after.core_phase, hold, "fixed_price" in after.orders,
            )  # fmt: skip

    def _queue_fixed(self, first: int) -> None:
        """Add the fixed-price orders accepted from event `first` on to those awaiting the close."""
        s = self.state
        events = s.vev[first : s.kout[k.K_EVENTS]]
        ids = events["order_id"][events["kind"] == VenueEventKind.QUEUED]
        ids = ids[s.ords[ids, k.O_STATE] == k.FIXED]
        if len(ids):
            self._fixed = np.concatenate((self._fixed, ids))

    def _match_fixed(self, t: int, expire: bool) -> None:
        """Trade the fixed-price orders awaiting the close at time t (kernel.match_fixed); expire:
        what is left expires."""
        if not len(self._fixed):
            return
        s = self.state
        s.grow_outputs(2 * len(self._fixed))
        k.match_fixed(
            self._fixed, expire, Phase.HALTED, t, s.cev, s.par, s.pos, s.ins, s.ords, s.fc, s.g,
            s.collected, s.bars, s.ring, s.vev, s.fout, s.mout, s.kout,
        )  # fmt: skip
        self._fixed = self._fixed[s.ords[self._fixed, k.O_STATE] == k.FIXED]

    def _release_held(self, t: int) -> None:
        """Enter the orders held while the books were closed, in arrival order, at time t."""
        s = self.state
        count = int(s.g[k.G_HELD])
        if not count:
            return
        o = s.held[:count]
        rows = np.zeros(count, COMMAND_DTYPE)
        rows["kind"] = 1
        for name, column in (("side", k.O_SIDE), ("order_type", k.O_TYPE), ("tif", k.O_TIF),
                             ("book", k.O_INST), ("owner", k.O_PART), ("price", k.O_PRICE),
                             ("quantity", k.O_QTY)):  # fmt: skip
            rows[name] = s.ords[o, column]
        rows["order_id"] = o
        rows["timestamp"] = t
        s.g[k.G_HELD] = 0
        self._run_internal(rows)

    def end_of_day(self) -> list[Statement]:
        """Close the day: run the session to its end, fix the closes, book the obligations.

        The closing auction's and the clear's events are in last_events, last_fees and
        last_market_data.
        """
        self._check_clock(self.clock)
        return self._call({"op": "end_of_day"})

    def _end_of_day(self) -> list[Statement]:
        self._begin()
        self._cross(max(self.clock, self.spans[-1].end))
        s = self.state
        for o in s.held[: s.g[k.G_HELD]]:
            k.release(s.par, s.pos, s.ins, s.ords, o)
        s.g[k.G_HELD] = 0
        for desk in self.desks:
            desk.close_day()
        number = int(s.g[k.G_DAY])
        for i in range(len(self.listings)):
            self.closes[i] = closing_price(s.ins, s.ring, i)
        self.settlement.book(
            number, self.board.settlement_cycle_days, s.par[:, k.DUE_CASH], s.pos[:, :, k.DUE_SH]
        )
        self.day = None
        self._collect()
        return [self.statement(p) for p in range(len(self.participants))]

    # order entry --------------------------------------------------------------------------

    def submit(self, batch: np.ndarray, reuse: bool = False, note: Any = None) -> np.ndarray:
        """Journal a batch of venue commands, process it in order and return its events.

        Timestamps must not decrease and not precede the session clock (ValueError, nothing
        recorded). The fee items and market data of the call are in last_fees and
        last_market_data. reuse=True returns views of buffers the Exchange overwrites on its
        next call (no copy; the fast path), otherwise arrays the caller owns. note: anything
        msgpack can write, journaled with the batch for the caller's own replay (the gateway
        keeps its client order id strings there); the venue never reads it.
        """
        if batch.dtype != ORDER_DTYPE:
            raise TypeError(f"batch has dtype {batch.dtype}, expected exchange.dtypes.ORDER_DTYPE")
        times = batch["timestamp"]
        self._check_clock(int(times[0]) if len(batch) else self.clock)
        if len(batch) > 1 and not k.nondecreasing(times):
            raise ValueError("timestamps must not decrease within a batch")
        if self.journal is not None:
            record: dict[str, Any] = {"op": "submit", "rows": batch.tobytes()}
            if note is not None:
                record["note"] = note
            self._record(record)
        return self._submit(batch, reuse)

    def reserve(self, commands: int, orders: int = 0) -> None:
        """Size and touch storage now, not inside a later submit (growing storage and page
        faults on fresh buffers cost more than the venue's work): the buffers of a batch of
        `commands` commands, and the order tables and the core's order slots for
        max(commands, orders) more orders (a gateway reserves a day's orders at start-up, so
        no order waits milliseconds for a table to double)."""
        orders = max(commands, orders)
        self.state.reserve_orders(orders)
        self.state.reserve_outputs(2 * commands, commands, 2 * commands)
        while self.engine.capacity < self.engine.resting() + orders:
            self.engine.grow()  # order slots for every order that may rest
        if len(self._cc) < commands:
            self._cc = zeroed(commands, COMMAND_DTYPE)

    def _submit(self, batch: np.ndarray, reuse: bool = False) -> np.ndarray:
        s = self.state
        self._begin()
        s.reserve_orders(len(batch))
        if len(self._cc) < len(batch):
            self._cc = np.zeros(len(batch), COMMAND_DTYPE)
        cc = self._cc[: len(batch)]
        cc["kind"] = 0  # a refused command leaves its core row empty
        times = batch["timestamp"]
        start = 0
        while start < len(batch):
            later = self._cross(int(times[start]))
            if later is None or later > times[-1]:
                stop = len(batch)
            else:
                stop = int(np.searchsorted(times, later, "left"))
            first = int(s.kout[k.K_EVENTS])
            if self.screen is None:
                start = self._run(False, batch, cc[:stop], start)
            else:
                start = self.screen(batch, cc[:stop], start)
            if s.sp[k.S_FIXED]:  # a phase that takes fixed-price orders
                self._queue_fixed(first)
        if len(batch) and len(self._fixed):
            last = int(times[-1])
            span = phase_at(self.spans, last)
            if span is not None and span.phase == AFTER_HOURS:
                self._match_fixed(last, expire=False)
        self._indicative()
        return self._collect(reuse)

    def _indicative(self) -> None:
        """Publish the indicative price and volume of call-phase books the call's orders changed."""
        calls = self.engine.books_in(CALL)
        if not calls:
            return
        events = self.state.vev[: self.state.kout[k.K_EVENTS]]
        changed = (events["command"] >= 0) & (events["kind"] != EventKind.REJECTED)
        counts = np.bincount(events["book"][changed], minlength=len(self.listings))
        for b in calls:
            if counts[b]:
                s = self.state
                s.grow_outputs(1)
                price, volume, imbalance = self.engine.indicative(int(b))
                s.ins[b, k.SEQ] += 1
                m = s.mout[s.kout[k.K_MD]]
                m["kind"], m["instrument"], m["seq"] = MarketDataKind.INDICATIVE, b, s.ins[b, k.SEQ]
                m["price"], m["quantity"], m["orders"] = price, volume, imbalance
                m["timestamp"] = self.clock
                s.kout[k.K_MD] += 1

    def _begin(self) -> None:
        self.state.kout[:] = 0

    def _collect(self, reuse: bool = False) -> np.ndarray:
        s = self.state
        kv, kf, km = s.kout.tolist()
        events, fees, market_data = s.vev[:kv], s.fout[:kf], s.mout[:km]
        if not reuse:
            events, fees, market_data = copied(events), copied(fees), copied(market_data)
        self.last_events, self.last_fees, self.last_market_data = events, fees, market_data
        return events

    def _run_internal(self, rows: np.ndarray) -> None:
        first = int(self.state.kout[k.K_EVENTS])
        self._run(True, np.zeros(0, ORDER_DTYPE), rows, 0)
        self.state.vev["command"][first : self.state.kout[k.K_EVENTS]] = -1

    def _run(self, internal: bool, cmds: np.ndarray, cc: np.ndarray, i: int) -> int:
        """Run the kernel from command i to the end of cc, growing storage when it asks; return
        where it stopped: the end, or (venue commands) after a command that halted a book."""
        s, e, first = self.state, self.engine, i
        while True:
            status, i, need = k.run_batch(
                internal, cmds, cc, i, s.cev, *e.arrays(), s.par, s.pos, s.ins, s.ords, s.ht, s.fc,
                s.g, s.collected, s.bars, s.ring, s.sp, s.held, s.vev, s.fout, s.mout, s.kout,
                s.tch,
            )  # fmt: skip
            if status in (k.DONE_ALL, k.HALT_CHECK) and self.core_log is not None:
                sent = cc[first:i]
                self.core_log.append(sent[sent["kind"] != 0].copy())
                first = i
            if status == k.DONE_ALL:
                return i
            if status == k.HALT_CHECK:
                self._check_volatility(int(cc[i - 1]["timestamp"]))
                if not internal:
                    return i
            elif status == k.NEED_CORE_EVENTS:
                s.cev = np.zeros(max(2 * len(s.cev), need), s.cev.dtype)
            elif status == k.NEED_SLOTS:
                e.grow()
            else:
                s.grow_outputs(need)

    def halt(self, instrument: int, ns: int) -> np.ndarray:
        """Halt an instrument by the operator at ns: its book takes cancels only."""
        self._check_clock(ns)
        self.listings[instrument]  # IndexError before anything is journaled
        return self._call({"op": "halt", "instrument": instrument, "halted": True, "ns": ns})

    def resume(self, instrument: int, ns: int) -> np.ndarray:
        """End an instrument's halt at ns: its book returns to the session's phase."""
        self._check_clock(ns)
        self.listings[instrument]  # IndexError before anything is journaled
        return self._call({"op": "halt", "instrument": instrument, "halted": False, "ns": ns})

    def _halt(self, instrument: int, halted: bool, ns: int) -> np.ndarray:
        self._begin()
        self._cross(ns)
        row = self.state.ins[instrument]
        if halted:
            row[k.HALTED] |= k.MANUAL
            self.halts.halt(instrument, ns)
        else:
            row[k.HALTED] &= ~k.MANUAL
            self.halts.resume(instrument, ns, "manual")
        span = phase_at(self.spans, ns)
        phase = Phase.HALTED if row[k.HALTED] or span is None else span.core_phase
        self._run_internal(command_batch(set_phase(phase, book=instrument, timestamp=ns)))
        return self._collect()

    # lifecycle ----------------------------------------------------------------------------

    def apply_lifecycle(self, event: Payment | Conversion | SharesDistributed) -> int:
        """Apply an instrument lifecycle event to the accounts; return a reason code (0: done).

        Payment: the issuer pays the holder; Conversion: bonds out, shares of the underlying
        and residual cash in; SharesDistributed: new shares to the holder. Holders are named by
        participant id (str).
        """
        fields = _plain(dataclasses.asdict(event))
        return self._call({"op": "lifecycle", "event": type(event).__name__, "fields": fields})

    def _lifecycle(self, name: str, fields: dict[str, Any]) -> int:
        s, settled = self.state, self.settlement
        instrument = self.symbols.get(fields["symbol"])
        if instrument is None:
            return VenueReason.UNKNOWN_INSTRUMENT
        holder = int(fields["holder"])
        listing = self.listings[instrument]
        if name == "SharesDistributed":
            return self._issue(instrument, holder, fields["shares"])
        if listing.issuer is None:
            return VenueReason.UNKNOWN_PARTICIPANT
        issuer, cash = listing.issuer, fields["cash"]
        if cash > s.par[issuer, k.CASH] - s.par[issuer, k.CASH_RES]:
            return VenueReason.INSUFFICIENT_CASH
        if name == "Conversion":
            bonds, shares = fields["bonds"], fields["shares"]
            free = s.pos[holder, instrument, k.POS] - s.pos[holder, instrument, k.SH_RES]
            if listing.underlying is None or bonds > free:
                return VenueReason.INSUFFICIENT_SHARES
            s.pos[holder, instrument, k.POS] -= bonds
            settled.settled_shares[holder, instrument] -= bonds
            if shares:
                reason = self._issue(self.symbols[listing.underlying], holder, shares)
                if reason:
                    s.pos[holder, instrument, k.POS] += bonds
                    settled.settled_shares[holder, instrument] += bonds
                    return reason
        s.par[issuer, k.CASH] -= cash
        s.par[holder, k.CASH] += cash
        settled.settled_cash[issuer] -= cash
        settled.settled_cash[holder] += cash
        return 0

    # queries ------------------------------------------------------------------------------

    def account(self, participant: int) -> dict[str, Any]:
        """Return a participant's cash (booked, reserved, free, settled) and positions by symbol."""
        par = self.state.par[participant]
        return {
            "cash": int(par[k.CASH]),
            "reserved": int(par[k.CASH_RES]),
            "free": int(par[k.CASH] - par[k.CASH_RES]),
            "settled_cash": int(self.settlement.settled_cash[participant]),
            "positions": self._positions(self.state.pos[participant, :, k.POS]),
            "reserved_shares": self._positions(self.state.pos[participant, :, k.SH_RES]),
        }

    def _positions(self, row: np.ndarray) -> dict[str, int]:
        return {x.symbol: int(v) for x, v in zip(self.listings, row, strict=True) if v}

    def statement(self, participant: int) -> Statement:
        """Return a participant's statement of the current (or last) day."""
        par = self.state.par[participant]
        return Statement(
            participant,
            int(self.state.g[k.G_DAY]),
            int(par[k.CASH]),
            int(self.settlement.settled_cash[participant]),
            int(par[k.CASH_RES]),
            self._positions(self.state.pos[participant, :, k.POS]),
            self._positions(self.settlement.settled_shares[participant]),
            int(par[k.BOUGHT]),
            int(par[k.SOLD]),
            int(par[k.FEES_PAID]),
        )

    def book(self, instrument: int, levels: int = 5) -> Snapshot:
        """Return the level-2 snapshot of an instrument (levels=1: level 1)."""
        return book_snapshot(self.engine, self.state.ins, instrument, levels)

    def levels(self, instrument: int, levels: int) -> tuple[np.ndarray, np.ndarray]:
        """Return up to `levels` bid and ask levels of an instrument, best first, as int64 rows
        of (price, quantity, orders): `book` without Python objects, for simulators."""
        return (
            self.engine.level_rows(instrument, Side.BUY, levels),
            self.engine.level_rows(instrument, Side.SELL, levels),
        )

    def quote(self, instrument: int, percents: np.ndarray = NO_PERCENTS) -> np.ndarray:
        """Return an instrument's best bid, its quantity, best ask and its quantity (0 where
        empty), then for each p in `percents` (int64 array) the shares bid and offered within p%
        of the mid (0 without a two-sided book): one int64 array, for simulators."""
        return self.engine.quote(instrument, percents)

    def last_and_volume(self, instrument: int) -> tuple[int, int]:
        """Return the instrument's last trade price today (0: none) and shares traded today."""
        row = self.state.ins[instrument]
        return int(row[k.LAST]), int(row[k.VOLUME])

    def depth_to(self, instrument: int, side: Side, price: int) -> int:
        """Return the shares resting on one side of an instrument's book from the best level to
        `price` inclusive."""
        return self.engine.depth_to(instrument, side, price)

    def day_stats(self, instrument: int) -> DayStats:
        """Return the day's open, high, low, last, volume, turnover and trades of an instrument."""
        return day_stats(self.state.ins, instrument)

    def bars(self, instrument: int) -> np.ndarray:
        """Return the day's one-minute OHLCV bars (start ns, open, high, low, close, volume,
        turnover)."""
        return minute_bars(self.state.bars, instrument, int(self.state.g[k.G_BAR_START]))

    def holder_count(self, instrument: int) -> int:
        """Return the holders counted toward the instrument's holder cap."""
        return int(self.state.ins[instrument, k.COUNTED])

    def fees_collected(self) -> dict[str, int]:
        """Return the fees collected per payee (1/10000 CNY; the rebate pool pays out < 0)."""
        return {p: int(v) for p, v in zip(self.payees, self.state.collected, strict=True)}

    def obligation_reports(self, day: datetime.date) -> list[ObligationReport]:
        """Return the market makers' obligation reports of a closed day, desk by desk
        (exchange.mechanisms.obligations)."""
        return [report for desk in self.desks for report in desk.obligation_reports(day)]

    def digest(self) -> dict[str, Any]:
        """Return a comparable summary of the whole state (journal replay must reproduce it)."""
        s = self.state
        used = int(s.g[k.G_NEXT_OID])
        return {
            "book": self.engine.state_hash(),
            "accounts": hash(s.par.tobytes() + s.pos.tobytes() + s.collected.tobytes()),
            "orders": hash(s.ords[:used].tobytes()),
            "instruments": hash(s.ins.tobytes() + s.bars.tobytes()),
            "settled": hash(self.settlement.settled_cash.tobytes()),
            "seq": s.ins[:, k.SEQ].tolist(),
            "clock": self.clock,
        }


class _DeskVenue:
    """The Exchange as its desks see it (exchange.mechanisms.desk.Venue)."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self.board, self.rules = exchange.board, exchange.rules
        self.state = exchange.state
        self.book = exchange.book

    @property
    def engine(self) -> NumbaEngine:
        return self._exchange.engine  # a new one each day (Exchange._ladders)

    @property
    def clock(self) -> int:
        return self._exchange.clock

    @property
    def day(self) -> datetime.date | None:
        return self._exchange.day

    @property
    def spans(self) -> tuple[PhaseSpan, ...]:
        return self._exchange.spans

    def call(self, op: dict[str, Any]) -> Any:
        self._exchange._check_clock(op["timestamp"])
        return self._exchange._call(op)

    def begin(self, ns: int) -> None:
        self._exchange._begin()
        self._exchange._cross(ns)

    def run(self, cmds: np.ndarray, cc: np.ndarray, i: int) -> int:
        return self._exchange._run(False, cmds, cc, i)

    def collect(self) -> np.ndarray:
        return self._exchange._collect()


def _band(tick: int, reference: int, limits: tuple[int, int] | None) -> tuple[int, int]:
    """Return a book's price band for a day: its price limits, or [tick, BAND_MULTIPLE x the
    reference] where the day has none."""
    return limits or (tick, max(tick, BAND_MULTIPLE * reference // tick * tick))


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    """Return fields with dates as ISO strings (for msgpack)."""
    return {
        key: value.isoformat() if isinstance(value, datetime.date) else value
        for key, value in fields.items()
    }


def _dated(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        **fields,
        "listed": fields["listed"] and datetime.date.fromisoformat(fields["listed"]),
    }
