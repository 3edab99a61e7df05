"""The discrete-event loop: one (scenario, seed) run driving the real Exchange, day by day.

Time is simulated ns UTC. Each agent has a one-way latency; L is the smallest. The loop jumps to
the next time T something happens (a wake, a command's arrival, a quote sample) and handles the
window [T, T + L): first every agent due in it wakes and sees the venue as it is at T (after all
commands that arrived before T); their commands arrive at wake + latency >= T + L, so none can
reach the venue inside the window. Then every command arriving in [T, T + L) goes to
`Exchange.submit` as one batch in arrival order (ties: agent order, then row order): nobody could
have reacted to anything inside the window, so one batch gives what one call per command would.
Events go back to the agents of their participants. Randomness comes from one seed through
numpy's SeedSequence (one stream per agent and per fundamental): same scenario and seed, same
records, byte for byte.
"""

from __future__ import annotations

import bisect
import datetime
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exchange.clearing.accounts import Participant
from exchange.dtypes import ORDER_DTYPE, VENUE_EVENT_DTYPE, OrderCommand
from exchange.fees.schedule import RATE_SCALE, FeeSchedule, fill_fees, total
from exchange.venue.exchange import Exchange, Listing
from matching_engine.dtypes import EventKind, Phase, Side
from simulation.agent import LEVEL_DTYPE, NEVER, Agent, InstrumentInfo, Session, Span, Top
from simulation.agents import KINDS
from simulation.fundamental import NS_PER_SECOND, Fundamental
from simulation.kernels import events_of, touched
from simulation.negotiation import Negotiation
from simulation.records import (
    ACCOUNT_RECORD_DTYPE,
    DAILY_RECORD_DTYPE,
    FUNDAMENTAL_RECORD_DTYPE,
    OBLIGATION_RECORD_DTYPE,
    ORDER_RECORD_DTYPE,
    QUOTE_RECORD_DTYPE,
    TRADE_RECORD_DTYPE,
    RunRecords,
    joined,
)  # fmt: skip
from simulation.scenario import Scenario, load_scenario, write_board

ROUND_TRIP_SHARES = 1_000  # the order size InstrumentInfo.round_trip_fee is quoted for


class View:
    """The read-only MarketView agents get: the venue as of the last batch, read lazily."""

    def __init__(self, exchange: Exchange, negotiation: Negotiation) -> None:
        """View one exchange; negotiated instruments' bid and ask are the best public intents."""
        self.exchange = exchange
        self.negotiation = negotiation
        self.phase = Phase.HALTED
        self._tops: dict[int, Top] = {}
        self.version = 0  # counts refreshes: what was read at one version holds until the next

    def refresh(self, phase: Phase) -> None:
        """Forget what was read (a batch ran)."""
        self.phase = phase
        self._tops.clear()
        self.version += 1

    def top(self, instrument: int) -> Top:
        """Return the instrument's level 1, last trade, volume and phase."""
        top = self._tops.get(instrument)
        if top is None:
            last, volume = self.exchange.last_and_volume(instrument)
            if instrument in self.negotiation.instruments:
                bid, bid_qty, ask, ask_qty = self.negotiation.top(instrument)
            else:
                bid, bid_qty, ask, ask_qty = self.exchange.quote(instrument).tolist()
            top = Top(bid, bid_qty, ask, ask_qty, last, volume, int(self.phase))
            self._tops[instrument] = top
        return top

    def levels(self, instrument: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Return up to `depth` bid and ask levels, best first."""
        out = []
        for rows in self.exchange.levels(instrument, depth):
            side = np.empty(len(rows), LEVEL_DTYPE)
            side["price"], side["quantity"] = rows[:, 0], rows[:, 1]
            out.append(side)
        return out[0], out[1]


@dataclass(frozen=True)
class Loop:
    """What one run's day loop works with."""

    exchange: Exchange
    negotiation: Negotiation
    agents: list[Agent]
    agent_of: np.ndarray  # participant -> index in agents
    listening: list[int]  # agents that override on_events
    view: View
    window: int  # ns: the smallest latency
    quote_step: int  # ns between quote samples
    class_of: np.ndarray  # participant -> agent class index
    tables: dict[str, list[np.ndarray]]
    counts: dict[str, int]


def round_trip_fee(schedule: FeeSchedule, price: int) -> int:
    """Return an investor's fees to buy and then sell ROUND_TRIP_SHARES at `price`, taking
    liquidity both ways, in parts per 10^8 of the notional."""
    notional = price * ROUND_TRIP_SHARES
    paid = sum(
        total(fill_fees(schedule, side, "taker", "investor", notional))
        for side in (Side.BUY, Side.SELL)
    )
    return paid * RATE_SCALE // notional


def _stream(seed: int, index: int) -> int:
    """Return the seed of stream `index` of a run's seed (SeedSequence(seed).spawn()[index])."""
    return int(np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1)[0])


def build_agents(scenario: Scenario, seed: int, fundamentals: list[Fundamental]) -> list[Agent]:
    """Create the scenario's populations with participant ids 0, 1, ... in file order."""
    agents: list[Agent] = []
    base = 0
    for k, group in enumerate(scenario.population, start=1):  # stream 0: the fundamentals
        ids = np.arange(base, base + group["count"], dtype=np.int32)
        latency = max(1, round(group["latency_us"] * 1_000))
        cls = KINDS[group["kind"]]
        agent_seed = _stream(seed, k)
        if cls.needs_fundamentals:
            agents.append(cls(ids, latency, agent_seed, group, fundamentals))
        else:
            agents.append(cls(ids, latency, agent_seed, group))
        base += group["count"]
    return agents


# A tiny market that runs the kernels of a day (warm_up).
WARM_UP = """
name = "warm-up"
[board]
preset = "star"
[[instruments]]
symbol = "W"
previous_close = 100_000
shares = 1_000_000
[[population]]
kind = "noise"
count = 20
shares = 1_000
[[population]]
kind = "value"
count = 10
shares = 1_000
[[population]]
kind = "momentum"
count = 2
wake_s = 60
shares = 1_000
[[population]]
kind = "market_maker"
count = 1
shares = 10_000
"""


def warm_up() -> float:
    """Run tiny scenarios (a book and a negotiation desk) so that the numba kernels of a run
    are compiled (the first time after an install, about a minute) or loaded from the cache;
    return the seconds it took."""
    start = time.perf_counter()
    simulate(load_scenario(WARM_UP), 0)
    negotiated = WARM_UP.replace('preset = "star"', 'preset = "regional"')
    simulate(load_scenario(negotiated.replace("shares = 1_000\n", "shares = 10_000\n")), 0)
    return time.perf_counter() - start


def simulate(
    scenario: Scenario, seed: int, progress: Callable[[int, int], None] | None = None
) -> RunRecords:
    """Run one scenario with one seed in process and return its records (deterministic).

    progress(day, days) is called after each trading day.
    """
    kinds = [g["kind"] for g in scenario.population]
    classes = tuple(dict.fromkeys(kinds))
    with tempfile.TemporaryDirectory() as directory:
        board = write_board(scenario, Path(directory))
        listings = [
            Listing(x["symbol"], x["class"], x["previous_close"]) for x in scenario.instruments
        ]
        participants, agent_class = [], []
        for group in scenario.population:
            kind = group["participant_kind"]
            if group["kind"] == "market_maker" and kind == "investor":
                kind = "market_maker"
            for _ in range(group["count"]):
                participants.append(Participant(len(participants), kind, group["assets"], 36))
                agent_class.append(classes.index(group["kind"]))
        exchange = Exchange(board, listings, participants, calendar=scenario.calendar,
                            journal=None)  # fmt: skip
    class_of = np.array(agent_class, np.int16)
    n_ins = len(listings)
    holders = {}
    pid = 0
    for group in scenario.population:
        for _ in range(group["count"]):
            if group["cash"]:
                exchange.deposit(pid, group["cash"])
            holders[pid] = group["shares"]
            pid += 1
    for i, x in enumerate(scenario.instruments):
        issued = 0
        for p, shares in holders.items():
            if shares:
                exchange.issue(i, p, shares)
                issued += shares
        if issued < x["shares"] and participants:
            exchange.issue(i, 0, x["shares"] - issued)  # the rest to participant 0
    fundamental_seed = np.random.SeedSequence(seed).spawn(len(scenario.population) + 1)[0]
    fundamental_seeds = fundamental_seed.spawn(n_ins)
    infos = tuple(
        InstrumentInfo(i, x.symbol, x.instrument_class, exchange.rules[i].mechanism,
                       exchange.rules[i].tick, exchange.rules[i].lot.minimum, x.previous_close,
                       round_trip_fee(exchange.fee_schedule, x.previous_close))
        for i, x in enumerate(listings)
    )  # fmt: skip
    fundamentals: list[Fundamental] = []
    agents = build_agents(scenario, seed, fundamentals)
    for agent in agents:
        agent.start(infos)
    agent_of = np.repeat(np.arange(len(agents)), [len(a.participants) for a in agents])
    listening = [i for i, a in enumerate(agents) if type(a).on_events is not Agent.on_events]
    window = min(a.latency_ns for a in agents)
    quote_step = round(scenario.recording["quote_interval_s"] * NS_PER_SECOND)
    fund_step = round(scenario.fundamental["sample_s"] * NS_PER_SECOND)
    names = ("orders", "trades", "quotes", "fundamental", "daily", "accounts", "obligations")
    tables: dict[str, list[np.ndarray]] = {name: [] for name in names}
    counts = dict.fromkeys(("events", "orders", "cancels", "replaces", "fills", "shares",
                            "rejects", "late", "batches", "wakes"), 0)  # fmt: skip
    calendar = exchange.calendar
    day = scenario.start
    negotiation = Negotiation(exchange, _stream(seed, len(scenario.population) + 1))
    view = View(exchange, negotiation)
    loop = Loop(exchange, negotiation, agents, agent_of, listening, view, window, quote_step,
                class_of, tables, counts)  # fmt: skip
    for day_index in range(scenario.days):
        while not calendar.is_trading_day(day):
            day += datetime.timedelta(days=1)
        exchange.open_day(day)
        number = calendar.day_number(day)
        spans = exchange.spans
        midnight = calendar.local_ns(day, "00:00")
        references = tuple(exchange.closes.get(i, x.previous_close) for i, x in enumerate(listings))
        session = Session(number, midnight, tuple(
            Span(s.phase, s.start, s.end, s.orders) for s in spans), references, day)  # fmt: skip
        start, end = spans[0].start, spans[-1].end
        if day_index == 0:
            streams = fundamental_seeds
            for i, x in enumerate(listings):
                seed_i = int(streams[i].generate_state(1)[0])
                fundamentals.append(Fundamental(scenario.fundamental, start, end,
                                                float(x.previous_close), seed_i))  # fmt: skip
        else:
            for i, f in enumerate(fundamentals):
                seed_i = int(fundamental_seeds[i].spawn(day_index + 1)[-1].generate_state(1)[0])
                fundamentals[i] = Fundamental(scenario.fundamental, start, end, f.last(), seed_i)
        for i, f in enumerate(fundamentals):
            times = np.arange(start, end, fund_step, dtype=np.int64)
            rows = np.zeros(len(times), FUNDAMENTAL_RECORD_DTYPE)
            rows["timestamp"], rows["instrument"] = times, i
            rows["value"] = np.rint([f.at(t) for t in times]).astype(np.int64)
            tables["fundamental"].append(rows)
        for agent in agents:
            agent.start_day(session)
        negotiation.start_day(session.close)
        _run_day(loop, spans, session)
        statements = exchange.end_of_day()
        events = exchange.last_events
        if len(events):
            _route(agents, loop.agent_of, loop.listening, events)
            _trades(events, number, class_of, 0, tables, counts)
        for agent in agents:
            agent.end_day()
        closes = exchange.closes
        for i in range(n_ins):
            st = exchange.day_stats(i)
            held = sum(s.positions.get(listings[i].symbol, 0) for s in statements)
            tables["daily"].append(np.array([(number, i, st.open, st.high, st.low, closes[i],
                st.volume, st.turnover, st.trades, held)], DAILY_RECORD_DTYPE))  # fmt: skip
        acc = np.zeros(len(statements), ACCOUNT_RECORD_DTYPE)
        acc["day"], acc["participant"] = number, np.arange(len(statements))
        acc["agent_class"] = class_of
        acc["cash"] = [s.cash for s in statements]
        acc["fees"] = [s.fees for s in statements]
        first = listings[0].symbol
        acc["position"] = [s.positions.get(first, 0) for s in statements]
        acc["value"] = [s.cash + sum(q * closes[exchange.symbols[sym]]
                        for sym, q in s.positions.items()) for s in statements]  # fmt: skip
        tables["accounts"].append(acc)
        for r in exchange.obligation_reports(day):
            passed = all(r.obligations.values())
            row = (number, r.maker, r.instrument, r.two_sided_share, passed)
            tables["obligations"].append(np.array([row], OBLIGATION_RECORD_DTYPE))
        if progress is not None:
            progress(day_index + 1, scenario.days)
        day += datetime.timedelta(days=1)
    dtypes = {"orders": ORDER_RECORD_DTYPE, "trades": TRADE_RECORD_DTYPE,
              "quotes": QUOTE_RECORD_DTYPE, "fundamental": FUNDAMENTAL_RECORD_DTYPE,
              "daily": DAILY_RECORD_DTYPE, "accounts": ACCOUNT_RECORD_DTYPE,
              "obligations": OBLIGATION_RECORD_DTYPE}  # fmt: skip
    out = {k: joined(v, dtypes[k]) for k, v in tables.items()}
    return RunRecords(
        scenario=scenario.name, seed=seed, symbols=tuple(x.symbol for x in listings),
        classes=classes, fees_by_payee=dict(exchange.fees_collected()), counts=counts, **out,
    )  # fmt: skip


TRADE, REJECTED = int(EventKind.TRADE), int(EventKind.REJECTED)
NEW, CANCEL, REPLACE = int(OrderCommand.NEW), int(OrderCommand.CANCEL), int(OrderCommand.REPLACE)
ORDER_FIELDS = ("timestamp", "participant", "instrument", "kind", "side", "order_type", "tif",
                "price", "quantity")  # fmt: skip
DEPTH_PERCENTS = np.array([1, 2], np.int64)  # the quote records' depth bands, % of the mid
QUOTE_FIELDS = ("bid", "bid_quantity", "ask", "ask_quantity", "bid_depth_1pct", "ask_depth_1pct",
                "bid_depth_2pct", "ask_depth_2pct")  # fmt: skip


def _route(agents: list[Agent], agent_of: np.ndarray, listening: list[int], events) -> list[int]:
    """Hand each listening agent (one that overrides on_events) the events of its participants
    (as owner or as a trade's contra); return the indices of the agents that got some."""
    hit = touched(events, agent_of, len(agents))
    got = [i for i in listening if hit[i]]
    if len(got) == 1 and np.count_nonzero(hit) == 1:  # one agent's events alone (the usual case)
        agents[got[0]].on_events(events)
        return got
    for i in got:
        agents[i].on_events(events_of(events, agent_of, i))
    return got


def _trades(events, number, class_of, mid, tables, counts) -> None:
    """Record the TRADE events of the day's calls; mid: the mid before each event's batch."""
    counts["events"] += len(events)
    trade = events["kind"] == TRADE
    t = events[trade]
    if not len(t):
        return
    buy = t["side"] == Side.BUY
    rows = np.zeros(len(t), TRADE_RECORD_DTYPE)
    rows["timestamp"], rows["day"], rows["instrument"] = t["timestamp"], number, t["book"]
    rows["price"], rows["quantity"] = t["price"], t["quantity"]
    rows["aggressor"] = np.where(t["command"] >= 0, t["side"].astype(np.int8), -1)
    rows["buyer"] = np.where(buy, t["owner"], t["contra_owner"])
    rows["seller"] = np.where(buy, t["contra_owner"], t["owner"])
    rows["buyer_class"], rows["seller_class"] = class_of[rows["buyer"]], class_of[rows["seller"]]
    rows["buyer_fee"] = np.where(buy, t["fee"], t["contra_fee"])
    rows["seller_fee"] = np.where(buy, t["contra_fee"], t["fee"])
    rows["mid_before"] = mid[trade] if np.ndim(mid) else mid
    tables["trades"].append(rows)
    counts["fills"] += len(t)
    counts["shares"] += int(t["quantity"].sum())


class DayLog:
    """A day's batches, their events and the mid before each, recorded at the day's end in one
    pass (cheaper than a record per batch)."""

    def __init__(self) -> None:
        """An empty day."""
        self.batches: list[np.ndarray] = []
        self.reasons: list[np.ndarray | None] = []  # None: read them from the events
        self.events: list[bytes] = []  # VENUE_EVENT_DTYPE rows
        self.mids: list[int] = []

    def add(self, batch: np.ndarray, events: np.ndarray, reasons: np.ndarray | None, mid: int):
        """Keep one batch with its events (a copy) and its rows' reject reasons (None: those
        of a single submit, read from the events' command indices)."""
        self.batches.append(batch)
        self.events.append(events.tobytes())
        self.reasons.append(reasons)
        self.mids.append(mid)

    def record(self, number: int, class_of: np.ndarray, tables: dict, counts: dict) -> None:
        """Append the day's order and trade records and count them."""
        if not self.batches:
            return
        batch = joined(self.batches, ORDER_DTYPE)
        sizes = np.array([len(b) for b in self.batches])
        first = np.cumsum(sizes) - sizes
        events = np.frombuffer(b"".join(self.events), VENUE_EVENT_DTYPE).copy()
        width = VENUE_EVENT_DTYPE.itemsize
        of_batch = np.repeat(np.arange(len(sizes)), [len(e) // width for e in self.events])
        reasons = np.zeros(len(batch), np.int32)
        from_events = np.array([r is None for r in self.reasons])
        refused = (events["kind"] == REJECTED) & (events["command"] >= 0)
        refused &= from_events[of_batch]
        rows = first[of_batch[refused]] + events["command"][refused]
        reasons[rows] = events["reason"][refused]
        for b in np.flatnonzero(~from_events):
            reasons[first[b] : first[b] + sizes[b]] = self.reasons[b]
        rec = np.zeros(len(batch), ORDER_RECORD_DTYPE)
        for name in ORDER_FIELDS:
            rec[name] = batch[name]
        rec["agent_class"] = class_of[batch["participant"]]
        rec["reason"] = reasons
        tables["orders"].append(rec)
        kind = batch["kind"]
        counts["batches"] += len(sizes)
        counts["orders"] += int(np.count_nonzero(kind == NEW))
        counts["cancels"] += int(np.count_nonzero(kind == CANCEL))
        counts["replaces"] += int(np.count_nonzero(kind == REPLACE))
        counts["rejects"] += int(np.count_nonzero(reasons))
        _trades(events, number, class_of, np.array(self.mids, np.int64)[of_batch], tables, counts)


class QuoteLog:
    """A day's quote samples: the grid times in trading spans, and per run of grid points that
    saw one state of the books, each instrument's quote; recorded at the day's end."""

    def __init__(self, session: Session, step: int, instruments: int) -> None:
        """The grid from the day's first span's start every `step` ns, inside the spans that
        take orders (Session.limit_spans)."""
        self.instruments = instruments
        self.read: tuple[int, list] = (-1, [])  # (View.version, each instrument's quote)
        times = np.arange(session.spans[0].start, session.spans[-1].end, step, dtype=np.int64)
        inside = np.zeros(len(times), bool)
        for x in session.limit_spans:
            inside |= (times >= x.start) & (times < x.end)
        self.times = times[inside]
        self.grid = self.times.tolist()  # for bisect: cheaper than numpy on one value
        self.taken = 0  # grid points recorded so far
        self.runs: list[tuple[int, int, int, int, np.ndarray | tuple]] = []

    def next(self) -> int:
        """Return the next grid time not yet recorded (NEVER: none)."""
        return self.grid[self.taken] if self.taken < len(self.grid) else NEVER

    def take(self, view: View, now: int, phase: int) -> None:
        """Record every instrument's quote at the grid times up to now (the books are as at the
        last batch, so one read serves them all); a negotiated instrument's are its best public
        intents, without depth."""
        stop = bisect.bisect_right(self.grid, now)
        if self.read[0] != view.version:  # a batch ran since the last read
            self.read = (view.version, [self._quote(view, i) for i in range(self.instruments)])
        for i, quote in enumerate(self.read[1]):
            self.runs.append((self.taken, stop, i, phase, quote))
        self.taken = stop

    @staticmethod
    def _quote(view: View, instrument: int) -> np.ndarray | tuple:
        if instrument in view.negotiation.instruments:
            top = view.top(instrument)
            return (top.bid, top.bid_quantity, top.ask, top.ask_quantity, 0, 0, 0, 0)
        return view.exchange.quote(instrument, DEPTH_PERCENTS)

    def record(self, number: int, tables: dict) -> None:
        """Append the day's quote records, in the order taken: per take, per instrument, the
        grid points it covered."""
        if not self.runs:
            return
        starts, stops, instruments, phases, quotes = zip(*self.runs, strict=True)
        counts = np.subtract(stops, starts)
        total = int(counts.sum())
        within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = np.zeros(total, QUOTE_RECORD_DTYPE)
        rows["timestamp"] = self.times[np.repeat(starts, counts) + within]
        rows["day"] = number
        rows["instrument"] = np.repeat(instruments, counts)
        rows["phase"] = np.repeat(phases, counts)
        values = np.repeat(np.array(quotes, np.int64), counts, axis=0)
        for j, name in enumerate(QUOTE_FIELDS):
            rows[name] = values[:, j]
        tables["quotes"].append(rows)


def _execute(
    exchange: Exchange, negotiation: Negotiation, batch: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Carry out a batch in time order: book instruments' rows through Exchange.submit (one
    call per run of them), negotiated ones at the desk; return the events and each row's reject
    reason (0: none), or None for a single submit (whose REJECTED events name their rows)."""
    if not negotiation.instruments:  # the fast path: one submit, its buffers not copied
        return exchange.submit(batch, reuse=True), None
    negotiated = negotiation.negotiated[batch["instrument"]]
    if not negotiated.any():
        return exchange.submit(batch, reuse=True), None
    reasons = np.zeros(len(batch), np.int32)
    parts = []
    cuts = np.flatnonzero(np.diff(negotiated)) + 1
    for lo, hi in zip([0, *cuts], [*cuts, len(batch)], strict=True):
        if negotiated[lo]:
            for row in range(lo, hi):
                events = negotiation.carry_out(batch[row])
                refused = events["reason"][events["kind"] == REJECTED]
                reasons[row] = refused[0] if len(refused) else 0
                parts.append(events)
            continue
        events = exchange.submit(batch[lo:hi])
        rejected = events[(events["kind"] == REJECTED) & (events["command"] >= 0)]
        reasons[lo + rejected["command"]] = rejected["reason"]
        parts.append(events)
    return joined(parts, VENUE_EVENT_DTYPE), reasons


def _run_day(loop: Loop, spans: tuple, session: Session) -> None:
    """Run one day's windows up to the last span's end.

    An agent's next_wake() changes only in start_day, wake and on_events, so it is read again
    only after those.
    """
    exchange, negotiation, agents, view = loop.exchange, loop.negotiation, loop.agents, loop.view
    window, quote_step, tables, counts = loop.window, loop.quote_step, loop.tables, loop.counts
    end = spans[-1].end
    log = DayLog()
    pending: list[tuple[int, np.ndarray]] = []  # (arrival, rows) of commands on their way
    arrival = NEVER  # the earliest pending command's arrival
    quotes = QuoteLog(session, quote_step, len(exchange.listings))
    next_quote = quotes.next()
    span_i, span_ends = 0, [x.end for x in spans]
    phases = [x.core_phase for x in spans]
    view.refresh(phases[0])
    wakes = [a.next_wake() for a in agents]
    woken = 0
    while True:
        now = min(min(wakes), arrival, next_quote)
        if now >= end:
            break
        while span_ends[span_i] <= now:
            span_i += 1
        if now >= next_quote:  # the book is as it was at every grid point up to now
            quotes.take(view, now, phases[span_i])
            next_quote = quotes.next()
        limit = now + window
        for i, agent in enumerate(agents):
            while wakes[i] < limit:
                t = wakes[i]
                rows = agent.wake(t, view)
                wakes[i] = agent.next_wake()
                woken += 1
                if len(rows):
                    t += agent.latency_ns
                    rows["timestamp"] = t
                    pending.append((t, rows))
                    arrival = min(arrival, t)
        if arrival >= limit:
            continue
        due = [(t, rows) for t, rows in pending if t < limit]
        pending = [(t, rows) for t, rows in pending if t >= limit]
        arrival = min((t for t, _ in pending), default=NEVER)
        last = max(t for t, _ in due)
        if len(due) == 1:
            batch = due[0][1]
        else:
            batch = np.concatenate([rows for _, rows in due])
            batch = batch[np.argsort(batch["timestamp"], kind="stable")]
        if last >= end:
            batch = batch[batch["timestamp"] < end]
            if not len(batch):
                continue
            last = int(batch["timestamp"][-1])
        top = view.top(0)
        events, reasons = _execute(exchange, negotiation, batch)
        log.add(batch, events, reasons, (top.bid + top.ask) // 2 if top.bid and top.ask else 0)
        for i in _route(agents, loop.agent_of, loop.listening, events):
            wakes[i] = agents[i].next_wake()
        while span_ends[span_i] <= last and span_i + 1 < len(spans):
            span_i += 1
        view.refresh(phases[span_i])
    counts["wakes"] += woken
    counts["late"] += sum(len(rows) for _, rows in pending)
    quotes.record(session.day, tables)
    log.record(session.day, loop.class_of, tables, counts)
