"""`techboard bench matching` and `techboard bench exchange`: speed, measured in one run.

bench matching: the numba engine against the reference engine.

Each scenario is a flow (matching_engine.flows): a book, seed commands entered untimed, and a
stream timed as one `process` call. The numba engine runs the whole stream (best of a few runs,
each on a fresh engine), into its reused event buffer and into a fresh one; both engines then run
the same prefix of it, which gives the ratio. In the auction scenario the timed batch is one
UNCROSS and the count is the orders it uncrosses.

bench exchange: a synthetic day of one board (exchange.flows) through the whole Exchange API
(checks, reservations, matching, fees, clearing, market data) on a fresh exchange whose buffers
are sized and touched beforehand, journal off: in batches of 10,000 commands as a simulator or
gateway submits them, and as one batch; the bare core then runs the core command rows the venue
sent it (the ratio); the journal is timed alone (one record and one fsync per batch) and with
the API (the day in batches, fsync per batch).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from exchange.venue.flows import SyntheticDay, open_exchange, synthetic_day
from exchange.venue.journal import JournalWriter
from matching_engine.api import BookSpec, MatchingEngine
from matching_engine.book import NumbaEngine
from matching_engine.dtypes import COMMAND_DTYPE, EventKind
from matching_engine.flows import (
    REGIMES,
    Flow,
    auction_flow,
    regime_flow,
    repeat,
    sweep_flow,
)
from matching_engine.lobster import lobster_commands
from matching_engine.reasons import Reason
from matching_engine.reference_book import ReferenceEngine
from techboard.commands import bench_table
from techboard.commands.bench_table import aligned

LOBSTER_DIR = Path("../shared/data/lobster")


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is, and how much of it the reference engine runs."""

    commands: int  # commands of each synthetic stream
    days: int  # replays of the LOBSTER day
    auction: int  # orders in the call auction
    reference: int  # commands (auction: orders) both engines run for the ratio
    repeats: int  # timed numba runs, the best is reported


FULL = Sizes(commands=2_000_000, days=30, auction=1_000_000, reference=200_000, repeats=3)
QUICK = Sizes(commands=20_000, days=1, auction=20_000, reference=5_000, repeats=1)


@dataclass(frozen=True)
class Scenario:
    """A named flow; `unit` says what is counted: stream commands, or orders uncrossed."""

    name: str
    kind: str  # lobster, regime, sweep or auction
    flow: Flow
    unit: str = "commands"

    @property
    def size(self) -> int:
        """Return the number of units the timed batch processes."""
        return len(self.flow.seed if self.unit == "orders" else self.flow.commands)

    def head(self, count: int) -> Scenario:
        """Return the scenario cut to its first `count` units."""
        spec, seed, commands = self.flow
        if self.unit == "orders":
            return Scenario(self.name, self.kind, Flow(spec, seed[:count], commands), self.unit)
        return Scenario(self.name, self.kind, Flow(spec, seed, commands[:count]), self.unit)


def lobster_files(directory: Path) -> tuple[Path, Path]:
    """Return the first LOBSTER message file in a directory and its orderbook file."""
    messages = sorted(directory.glob("*_message_*.csv"))
    if not messages:
        raise FileNotFoundError(f"no LOBSTER *_message_*.csv file in {directory}")
    message = messages[0]
    return message, message.with_name(message.name.replace("_message_", "_orderbook_"))


def scenarios(sizes: Sizes, lobster_dir: Path) -> list[tuple[str, Callable[[], Scenario]]]:
    """Return the scenario names, each with a function that builds it."""

    def lobster() -> Scenario:
        day = Flow(*lobster_commands(*lobster_files(lobster_dir)))
        return Scenario(f"LOBSTER x{sizes.days}", "lobster", repeat(day, sizes.days))

    def regime(name: str) -> Callable[[], Scenario]:
        return lambda: Scenario(name, "regime", regime_flow(REGIMES[name], sizes.commands))

    def sweep() -> Scenario:
        return Scenario("deep book sweep", "sweep", sweep_flow(sizes.commands))

    def auction() -> Scenario:
        name = f"auction uncross of {sizes.auction:,} orders"
        return Scenario(name, "auction", auction_flow(sizes.auction), unit="orders")

    return [
        ("lobster", lobster),
        *((name, regime(name)) for name in REGIMES),
        ("sweep", sweep),
        ("auction", auction),
    ]


@dataclass(frozen=True)
class Engine:
    """One way of timing an engine: which engine, and whether it reuses its event buffer."""

    name: str
    make: Callable[[BookSpec], MatchingEngine]
    reuse: bool = False  # numba: process(reuse=True) into an event buffer touched untimed

    def prepare(self, flow: Flow) -> MatchingEngine:
        """Return a fresh engine holding the flow's seed, ready for the timed batch.

        A reusing engine first gets its event buffer sized and touched by a batch of commands
        it rejects (rejects change nothing), as a venue's engine has after its first batch.
        """
        engine = self.make(flow.spec)
        if self.reuse:
            blank = np.zeros(len(flow.seed) + len(flow.commands), COMMAND_DTYPE)
            engine.process(blank, reuse=True)
        engine.process(flow.seed)
        return engine

    def process(self, engine: MatchingEngine, commands: np.ndarray) -> np.ndarray:
        """Return the events of one batch."""
        return engine.process(commands, reuse=True) if self.reuse else engine.process(commands)


NUMBA = Engine("numba", lambda spec: NumbaEngine([spec]), reuse=True)
NUMBA_FRESH = Engine("numba, fresh event buffer", lambda spec: NumbaEngine([spec]))
REFERENCE = Engine("reference", lambda spec: ReferenceEngine([spec]))


@dataclass
class Run:
    """One timed batch: wall and CPU seconds, the events, and the engine afterwards."""

    seconds: float
    cpu_seconds: float
    events: np.ndarray
    resting_before: int
    engine: MatchingEngine


def run(engine: Engine, flow: Flow) -> Run:
    """Enter the seed untimed on a fresh engine, then time the stream as one batch."""
    book = engine.prepare(flow)
    before = book.resting()
    start, cpu = time.perf_counter(), time.process_time()
    events = engine.process(book, flow.commands)
    return Run(time.perf_counter() - start, time.process_time() - cpu, events, before, book)


def best_run(engine: Engine, flow: Flow, repeats: int) -> Run:
    """Return the fastest of `repeats` runs, each on a fresh engine."""
    return min((run(engine, flow) for _ in range(repeats)), key=lambda r: r.seconds)


def warm_up(flow: Flow, count: int = 1_000) -> float:
    """Push a small batch of the flow's own arrays through a fresh numba engine; return seconds.

    The first call of a session compiles the kernels (or loads them from numba's cache).
    """
    start = time.perf_counter()
    run(NUMBA, Flow(flow.spec, flow.seed[:count], flow.commands[:count]))
    return time.perf_counter() - start


def peak_resting(events: np.ndarray, before: int) -> int:
    """Return the most orders resting at once between the commands that caused the events."""
    kind = events["kind"]
    trade = kind == EventKind.TRADE
    delta = (
        (kind == EventKind.ACCEPTED).astype(np.int64)
        - (kind == EventKind.CANCELLED)
        - (kind == EventKind.EXPIRED)
        - (trade & (events["leaves"] == 0))
        - (trade & (events["contra_leaves"] == 0))
    )
    last_of_command = np.diff(events["command"], append=-1) != 0
    return before + max(0, int(np.cumsum(delta)[last_of_command].max(initial=0)))


def machine() -> str:
    """Return the CPU model, the CPUs this process may use, and the versions that matter."""
    return bench_table.machine(f"numpy {np.__version__}, numba {numba.__version__}")


def measure(scenario: Scenario, sizes: Sizes, host: str) -> dict[str, Any]:
    """Time one scenario in both engines and return its result row."""
    warmup = warm_up(scenario.flow)
    full = best_run(NUMBA, scenario.flow, sizes.repeats)
    fresh = best_run(NUMBA_FRESH, scenario.flow, sizes.repeats)
    prefix = scenario.head(sizes.reference)
    numba_prefix = best_run(NUMBA, prefix.flow, sizes.repeats)
    reference = run(REFERENCE, prefix.flow)
    numba_rate = scenario.size / full.seconds
    numba_prefix_rate = prefix.size / numba_prefix.seconds
    reference_rate = prefix.size / reference.seconds
    kinds = full.events["kind"]
    cancelled = (kinds == EventKind.CANCELLED) & (
        full.events["reason"] == Reason.CANCELLED_BY_OWNER
    )
    accepted = np.count_nonzero(kinds == EventKind.ACCEPTED)
    return {
        "scenario": scenario.name,
        "kind": scenario.kind,
        "unit": scenario.unit,
        "commands": scenario.size,
        "numba_commands_per_s": numba_rate,
        "numba_seconds": full.seconds,
        "numba_cpu_seconds": full.cpu_seconds,
        "numba_fresh_buffer_commands_per_s": scenario.size / fresh.seconds,
        "reference_commands": prefix.size,
        "numba_prefix_commands_per_s": numba_prefix_rate,
        "reference_commands_per_s": reference_rate,
        "ratio": numba_prefix_rate / reference_rate,
        "events_agree": bool(np.array_equal(numba_prefix.events, reference.events)),
        "events": len(full.events),
        "trades": int(np.count_nonzero(kinds == EventKind.TRADE)),
        "cancelled_by_owner_share": np.count_nonzero(cancelled) / max(1, accepted),
        "peak_resting": peak_resting(full.events, full.resting_before),
        "bytes_per_order": full.engine.bytes_per_order(),
        "warmup_s": warmup,
        "machine": host,
    }


def _rate(value: float) -> str:
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.1f}k"


def table(results: list[dict[str, Any]]) -> str:
    """Return the results as a text table with the machine line and the headline below."""
    head = (
        "scenario",
        "commands",
        "numba/s",
        "fresh buffer/s",
        "reference/s (first n)",
        "ratio",
        "numba s",
        "peak resting",
    )
    body = [
        (
            r["scenario"],
            f"{r['commands']:,}",
            _rate(r["numba_commands_per_s"]),
            _rate(r["numba_fresh_buffer_commands_per_s"]),
            f"{_rate(r['reference_commands_per_s'])} ({r['reference_commands']:,})",
            f"{r['ratio']:.0f}x",
            f"{r['numba_seconds']:.3f}",
            f"{r['peak_resting']:,}",
        )
        for r in results
    ]
    lines = aligned(head, body)
    worst = next(r for r in results if r["worst_regime"])
    differ = [r["scenario"] for r in results if not r["events_agree"]]
    return "\n".join(
        [
            *lines,
            "",
            f"worst regime: {worst['scenario']}, {_rate(worst['numba_commands_per_s'])} commands/s",
            f"events DIFFER between the engines on: {', '.join(differ)}"
            if differ
            else "events identical in both engines on every prefix",
            "numba: process(reuse=True), event buffer touched beforehand; fresh buffer: "
            "process() allocating its events",
            "reference and ratio: both engines (numba reusing) on the first n commands; "
            "auction: orders uncrossed per second of the UNCROSS alone",
            f"bytes per order slot: {results[0]['bytes_per_order']}",
            f"first numba call, untimed (compile or cache load): {results[0]['warmup_s']:.2f} s",
            f"machine: {results[0]['machine']}",
        ]
    )


def bench_matching(args: argparse.Namespace) -> int:
    """Run every matching scenario and print the table (or JSON); exit 1 if the engines differ."""
    sizes = QUICK if args.quick else FULL
    host = machine()
    results = []
    for _, build in scenarios(sizes, args.lobster):
        started = time.perf_counter()
        result = measure(build(), sizes, host)
        results.append(result)
        print(
            f"{result['scenario']}: {result['commands']:,} {result['unit']}, numba "
            f"{_rate(result['numba_commands_per_s'])}/s, reference "
            f"{_rate(result['reference_commands_per_s'])}/s, ratio {result['ratio']:.0f}x "
            f"({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    regimes = [r for r in results if r["kind"] == "regime"]
    worst = min(regimes, key=lambda r: r["numba_commands_per_s"])
    for result in results:
        result["worst_regime"] = result is worst
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0 if all(r["events_agree"] for r in results) else 1


# ----------------------------------------------------------------------------- bench exchange

EXCHANGE_BOARDS = ("star", "techboard-call")


@dataclass(frozen=True)
class ExchangeSizes:
    """How big each synthetic day is and how it is timed."""

    commands: int  # commands of the day
    repeats: int  # timed runs of the API and the core, the best is reported
    batch: int  # commands per submit (with the journal on: one record, one fsync)


EXCHANGE_FULL = ExchangeSizes(commands=2_000_000, repeats=3, batch=10_000)
EXCHANGE_QUICK = ExchangeSizes(commands=20_000, repeats=1, batch=1_000)


def time_exchange(day: SyntheticDay, repeats: int, batch: int) -> tuple[float, float]:
    """Return the best (wall, CPU) seconds of the day in submits of `batch` commands."""
    best = (float("inf"), float("inf"))
    chunks = [day.batch[i : i + batch] for i in range(0, len(day.batch), batch)]
    for _ in range(repeats):
        exchange = open_exchange(day)
        exchange.reserve(len(day.batch))
        start, cpu = time.perf_counter(), time.process_time()
        for chunk in chunks:
            exchange.submit(chunk, reuse=True)
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    return best


def core_rows(day: SyntheticDay) -> tuple[tuple[BookSpec, ...], np.ndarray, np.ndarray]:
    """Return the book specs, the core command rows the venue sends for the day, its events."""
    exchange = open_exchange(day)
    exchange.core_log = []
    events = exchange.submit(day.batch)
    return exchange.engine.specs, np.concatenate(exchange.core_log), events


def time_core(specs: tuple[BookSpec, ...], rows: np.ndarray, repeats: int) -> float:
    """Return the best seconds of the bare numba core on the rows (event buffer touched first)."""
    best = float("inf")
    for _ in range(repeats):
        engine = NumbaEngine(specs, 1 << 14)
        engine.process(np.zeros(len(rows), COMMAND_DTYPE), reuse=True)
        start = time.perf_counter()
        engine.process(rows, reuse=True)
        best = min(best, time.perf_counter() - start)
    return best


def time_journal(day: SyntheticDay, batch: int, folder: Path) -> tuple[float, float]:
    """Return (records/s of the journal alone, commands/s of the API with it), fsync per batch."""
    chunks = [day.batch[i : i + batch] for i in range(0, len(day.batch), batch)]
    with JournalWriter(folder / "alone.tbj") as writer:
        start = time.perf_counter()
        for chunk in chunks:
            writer.append({"op": "submit", "rows": chunk.tobytes()})
            writer.flush()
        alone = len(chunks) / (time.perf_counter() - start)
    exchange = open_exchange(day, journal=folder / "api.tbj")
    exchange.reserve(batch)
    start = time.perf_counter()
    for chunk in chunks:
        exchange.submit(chunk, reuse=True)
    return alone, len(day.batch) / (time.perf_counter() - start)


def measure_exchange(board: str, sizes: ExchangeSizes, host: str) -> dict[str, Any]:
    """Time one board's synthetic day through the API, the bare core and the journal."""
    day = synthetic_day(board, sizes.commands)
    start = time.perf_counter()
    open_exchange(day).submit(day.batch[:1_000])  # compiles or loads the kernels
    warmup = time.perf_counter() - start
    seconds, cpu_seconds = time_exchange(day, sizes.repeats, sizes.batch)
    one_batch, _ = time_exchange(day, sizes.repeats, len(day.batch))
    specs, rows, events = core_rows(day)
    core_seconds = time_core(specs, rows, sizes.repeats)
    with tempfile.TemporaryDirectory() as folder:
        records, journaled = time_journal(day, sizes.batch, Path(folder))
    kinds = events["kind"]
    return {
        "scenario": f"{board} synthetic day",
        "board": board,
        "commands": len(day.batch),
        "batch": sizes.batch,
        "commands_per_s": len(day.batch) / seconds,
        "seconds": seconds,
        "commands_per_cpu_s": len(day.batch) / cpu_seconds,
        "one_batch_commands_per_s": len(day.batch) / one_batch,
        "core_commands": len(rows),
        "core_commands_per_s": len(rows) / core_seconds,
        "core_seconds": core_seconds,
        "api_over_core": one_batch / core_seconds,
        "journal_records_per_s": records,
        "journal_commands_per_s": records * sizes.batch,
        "journaled_commands_per_s": journaled,
        "events": len(events),
        "trades": int(np.count_nonzero(kinds == EventKind.TRADE)),
        "rejected_share": np.count_nonzero(kinds == EventKind.REJECTED) / len(day.batch),
        "warmup_s": warmup,
        "machine": host,
    }


def exchange_table(results: list[dict[str, Any]]) -> str:
    """Return the exchange results as a text table with the machine line below."""
    head = ("scenario", "commands", "API/s", "API/CPU s", "one batch/s", "core/s", "one batch/core",
            "journal rec/s", "API+journal/s", "trades")  # fmt: skip
    body = [
        (
            r["scenario"],
            f"{r['commands']:,}",
            _rate(r["commands_per_s"]),
            _rate(r["commands_per_cpu_s"]),
            _rate(r["one_batch_commands_per_s"]),
            _rate(r["core_commands_per_s"]),
            f"{r['api_over_core']:.1f}x",
            f"{r['journal_records_per_s']:,.0f}",
            _rate(r["journaled_commands_per_s"]),
            f"{r['trades']:,}",
        )
        for r in results
    ]
    lines = aligned(head, body)
    return "\n".join(
        [
            *lines,
            "",
            f"API/s: the day in submits of {results[0]['batch']:,} commands (journal off, "
            "buffers touched, events as views), best of runs; API/CPU s: the same per CPU second "
            "(the machine is shared); one batch/s: the day as one submit",
            "core/s: the bare numba core on the core rows the venue sent (refused commands send "
            "none); one batch/core: the one-batch API's time over the core's",
            f"journal: one record and one fsync per {results[0]['batch']:,} commands; "
            "API+journal/s: the day in such batches through submit",
            f"first call, untimed (compile or cache load): {results[0]['warmup_s']:.2f} s",
            f"machine: {results[0]['machine']}",
        ]
    )


def bench_exchange(args: argparse.Namespace) -> int:
    """Run each board's synthetic day and print the table (or JSON)."""
    sizes = EXCHANGE_QUICK if args.quick else EXCHANGE_FULL
    host = machine()
    results = []
    for board in EXCHANGE_BOARDS:
        result = measure_exchange(board, sizes, host)
        results.append(result)
        print(
            f"{result['scenario']}: {result['commands']:,} commands, API "
            f"{_rate(result['commands_per_s'])}/s, core {_rate(result['core_commands_per_s'])}/s",
            file=sys.stderr,
            flush=True,
        )
    print(json.dumps(results, indent=2) if args.json else exchange_table(results))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `bench` and its targets (matching, exchange, gateway, simulation) to the parser."""
    bench = subparsers.add_parser("bench", help="speed measurements")
    targets = bench.add_subparsers(dest="target", required=True)
    matching = targets.add_parser(
        "matching",
        help="numba engine against the reference engine on LOBSTER and synthetic flows",
    )
    matching.add_argument("--json", action="store_true", help="print a JSON list of results")
    matching.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    matching.add_argument(
        "--lobster",
        type=Path,
        default=LOBSTER_DIR,
        help=f"folder of a LOBSTER sample (default {LOBSTER_DIR})",
    )
    matching.set_defaults(func=bench_matching)
    venue = targets.add_parser(
        "exchange",
        help="a synthetic day through the whole Exchange API, the bare core and the journal",
    )
    venue.add_argument("--json", action="store_true", help="print a JSON list of results")
    venue.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    venue.set_defaults(func=bench_exchange)
    from techboard.commands import bench_gateway, bench_simulation  # targets in own modules

    bench_gateway.add_target(targets)
    bench_simulation.add_target(targets)
