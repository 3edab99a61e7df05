"""`techboard bench matching`: the numba engine against the reference engine, in one run.

Each scenario is a flow (matching_engine.flows): a book, seed commands entered untimed, and a
stream timed as one `process` call. The numba engine runs the whole stream (best of a few runs,
each on a fresh engine), into its reused event buffer and into a fresh one; both engines then run
the same prefix of it, which gives the ratio. In the auction scenario the timed batch is one
UNCROSS and the count is the orders it uncrosses.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

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
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {len(os.sched_getaffinity(0))} CPUs; Python {platform.python_version()}, "
        f"numpy {np.__version__}, numba {numba.__version__}"
    )


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
    widths = [max(len(row[i]) for row in (head, *body)) for i in range(len(head))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in (head, *body)
    ]
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


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `bench` and its `matching` subcommand to the techboard parser."""
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
