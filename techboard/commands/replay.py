"""`techboard replay lobster MESSAGE_CSV ORDERBOOK_CSV`: real market data through the books."""

from __future__ import annotations

import argparse
import json
import sys

from matching_engine.book import NumbaEngine
from matching_engine.lobster import LobsterSample, read_lobster, replay
from matching_engine.reference_book import ReferenceEngine

ENGINES = {"numba": NumbaEngine, "reference": ReferenceEngine}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `replay` subcommand."""
    parser = subparsers.add_parser("replay", help="replay real market data through the books")
    sources = parser.add_subparsers(dest="source", required=True)
    lobster = sources.add_parser("lobster", help="a LOBSTER message file and its orderbook file")
    lobster.add_argument("message_csv")
    lobster.add_argument("orderbook_csv")
    lobster.add_argument("--levels", type=int, help="levels to compare (default: all the file has)")
    lobster.add_argument(
        "--engines",
        nargs="+",
        choices=list(ENGINES),
        default=list(ENGINES),
        help="engines to replay through (default: all; the reference book is the slow one)",
    )
    lobster.set_defaults(func=run_lobster)


def progress(done: int, total: int) -> None:
    """Print a progress line on stderr."""
    print(f"replay: {done} of {total} engines checked", file=sys.stderr, flush=True)


def lobster_report(
    sample: LobsterSample, levels: int | None = None, engines: list[str] | None = None
) -> dict:
    """Replay a LOBSTER sample through the named engines (default: all) and return the report."""
    chosen = {name: ENGINES[name] for name in engines or ENGINES}
    return replay(sample, chosen, levels=levels, progress=progress)


def run_lobster(args: argparse.Namespace) -> int:
    """Print the replay report as one JSON object; exit 1 on any mismatched row."""
    try:
        sample = read_lobster(args.message_csv, args.orderbook_csv)
        report = lobster_report(sample, args.levels, args.engines)
    except (OSError, ValueError) as error:
        print(f"techboard replay: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 1 if report["mismatched_rows"] else 0
