"""`techboard bench simulation [--json] [--scenario NAME ...] [--scaling SEEDS]`: the simulator's
speed.

Each scenario's first seed runs in a fresh process (so its peak memory is its own) after a
warm-up run of a tiny scenario that loads the numba caches; the figure is the wall time of the
simulated days alone, beside the load it carried (events, orders, cancels, fills). --scaling
runs a study of SEEDS seeds of the first scenario with 1 and then 2 local workers and reports
the speed-up.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np

from simulation.run import simulate, warm_up
from simulation.scenario import load_scenario
from techboard.commands.bench_table import aligned, machine

DEFAULT = ("rmsc-like", "regional-today", "techboard-proposed")


def measure(name: str) -> dict[str, Any]:
    """Run seed 0 of a scenario after a warm-up; return its time, load and peak memory."""
    warm_up()
    scenario = load_scenario(name)
    start = time.perf_counter()
    records = simulate(scenario, 0)
    wall = time.perf_counter() - start
    counts = records.counts
    return {
        "scenario": scenario.name,
        "wall_s": round(wall, 3),
        "events": counts["events"],
        "orders": counts["orders"],
        "cancels": counts["cancels"],
        "fills": counts["fills"],
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def in_fresh_process(name: str) -> dict[str, Any]:
    """Run `measure(name)` in a new interpreter (spawned, so nothing is shared)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(measure, (name,))


def scaling(name: str, seeds: int) -> dict[str, float]:
    """Return the wall time of a study of `seeds` seeds with 1 and with 2 local workers."""
    from studies.runner import ScenarioSpec, run_study  # here: a measured run's process skips it

    scenario = load_scenario(name)
    spec = ScenarioSpec(scenario.name, scenario.text)
    walls = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            outcomes = run_study([spec], range(seeds), Path(out), workers=workers, progress=None)
            walls[workers] = time.perf_counter() - start
            if not all(o.ok for o in outcomes):
                raise RuntimeError(f"a run of {name} failed: {[o.error for o in outcomes]}")
    return {
        "scenario": scenario.name,
        "seeds": seeds,
        "one_worker_s": round(walls[1], 2),
        "two_workers_s": round(walls[2], 2),
        "speedup": round(walls[1] / walls[2], 2),
    }


def table(results: list[dict[str, Any]]) -> str:
    """Return the results as an aligned table with the machine and its load."""
    head = ("scenario", "wall s", "events", "orders", "cancels", "fills", "peak MiB")
    keys = ("wall_s", "events", "orders", "cancels", "fills", "peak_mib")
    body = [(r["scenario"], *(f"{r[k]:,}" for k in keys)) for r in results]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    host = machine(f"numpy {np.__version__}, numba {numba.__version__}")
    return "\n".join([*aligned(head, body), f"{host}; load average {load}"])


def bench_simulation(args: argparse.Namespace) -> int:
    """Run the simulation benchmark and print a table or JSON."""
    results = []
    for name in args.scenario or DEFAULT:
        print(f"bench simulation: {name} ...", file=sys.stderr, flush=True)
        results.append(in_fresh_process(name))
    scaled = scaling((args.scenario or DEFAULT)[0], args.scaling) if args.scaling else None
    if args.json:
        print(json.dumps(results if scaled is None else [*results, scaled], indent=2))
        return 0
    print(table(results))
    if scaled:
        print(f"{scaled['seeds']} seeds of {scaled['scenario']}: 1 worker "
              f"{scaled['one_worker_s']} s, 2 workers {scaled['two_workers_s']} s, "
              f"speed-up {scaled['speedup']}x")  # fmt: skip
    return 0


def add_target(targets: argparse._SubParsersAction) -> None:
    """Add `bench simulation` to the bench command's targets."""
    parser = targets.add_parser("simulation", help="the discrete-event simulator's speed")
    parser.add_argument("--json", action="store_true", help="print a JSON list of results")
    parser.add_argument(
        "--scenario", action="append", help=f"shipped name or file (default: {', '.join(DEFAULT)})"
    )
    parser.add_argument(
        "--scaling", type=int, metavar="SEEDS", help="also time SEEDS seeds on 1 and 2 workers"
    )
    parser.set_defaults(func=bench_simulation)
