"""`techboard run`: the main job (until the liquidity study lands: the LOBSTER replay report)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from matching_engine.lobster import read_lobster
from techboard.commands.replay import lobster_report


def shared_data() -> Path:
    """Return the shared data: $TECHBOARD_SHARED_DATA, else ../shared/data beside the repo."""
    configured = os.environ.get("TECHBOARD_SHARED_DATA")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `run` subcommand."""
    parser = subparsers.add_parser("run", help="the main job and its report")
    parser.add_argument("--out", default="out/run", help="report folder (default out/run)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replay the shared LOBSTER sample, print a summary table and write the report files."""
    folder = shared_data() / "lobster"
    messages = sorted(folder.glob("*_message_*.csv"))
    if not messages:
        print(f"techboard run: no LOBSTER message file in {folder}", file=sys.stderr)
        return 2
    message_csv = messages[0]
    orderbook_csv = Path(str(message_csv).replace("_message_", "_orderbook_"))
    sample = read_lobster(message_csv, orderbook_csv)
    report = lobster_report(sample)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "replay.json").write_text(json.dumps(report, indent=2))
    plot_spread(sample.book, out / "replay.png")
    rows = [
        ("sample", message_csv.name),
        ("orderbook rows", f"{report['rows']:,}"),
        ("rows checked", f"{report['checked']:,}"),
        ("mismatches", str(report["mismatches"])),
        ("execution agreement", f"{report['execution_agreement']:.2%}"),
        ("inferred orders", f"{report['inferred_orders']:,}"),
        *((f"{name} commands/s", f"{rate:,}") for name, rate in report["commands_per_s"].items()),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"report: {out / 'replay.json'}, {out / 'replay.png'}")
    return 1 if report["mismatches"] else 0


def plot_spread(book, path: Path) -> None:
    """Plot the best bid and ask of the replayed day (they match the engine row for row)."""
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(book[:, 0] / 10_000, lw=0.5, label="best ask")
    ax.plot(book[:, 2] / 10_000, lw=0.5, label="best bid")
    ax.set_xlabel("message")
    ax.set_ylabel("price (USD)")
    ax.set_title("LOBSTER replay: top of book, checked against the engine after every message")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
