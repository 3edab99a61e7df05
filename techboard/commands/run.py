"""`techboard run`: the main job, the shipped liquidity study and its report.

Today's regional-market rules (negotiated transfer, the holding period, today's fees) against the
proposed tech board (call auctions and continuous trading with market makers, reduced fees) and
a fee cut alone, over 8 seeds, in process (local worker processes, no broker); writes
./techboard-report/index.html and prints the comparison table, the time and the peak memory.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from techboard.commands.study import run_scenarios, shared_data

SCENARIOS = ("regional-today", "techboard-proposed", "fee-cut")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `run` subcommand."""
    parser = subparsers.add_parser("run", help="the main job: the shipped study and its report")
    parser.add_argument("--out", default="techboard-report", help="report folder")
    parser.add_argument("--seeds", type=int, default=8, help="seeds per scenario (default 8)")
    parser.add_argument("--workers", type=int, help="local worker processes (default: cores)")
    parser.add_argument(
        "--scenarios", nargs="+", default=list(SCENARIOS), help="shipped names or files"
    )
    parser.set_defaults(func=run)


def peak_mib() -> tuple[float, float]:
    """Return the peak resident memory of this process and of its largest worker, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


def run(args: argparse.Namespace) -> int:
    """Run the shipped study, write the report and print the table, time and peak memory."""
    start = time.perf_counter()
    status = run_scenarios(
        args.scenarios,
        seeds=args.seeds,
        out=Path(args.out),
        baseline=None,  # the first scenario
        workers=args.workers,
        real_market=shared_data() / "lobster",
    )
    own, child = peak_mib()
    print(
        f"techboard run: {time.perf_counter() - start:.1f}s, peak memory {own:.0f} MiB "
        f"(main process), {child:.0f} MiB (largest worker)"
    )
    return status
