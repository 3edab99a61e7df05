"""`techboard study`: run scenario files over seeds, compare them, write the report."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from simulation.run import warm_up
from simulation.scenario import SCENARIO_DIR, ScenarioError, load_scenario, shipped_scenarios
from studies.compare import compare, format_table, table
from studies.report import ScenarioInfo, write_report
from studies.runner import ScenarioSpec, run_study
from studies.stylized import lobster_sample


def shared_data() -> Path:
    """Return the shared data: $TECHBOARD_SHARED_DATA, else ../shared/data beside the repo."""
    configured = os.environ.get("TECHBOARD_SHARED_DATA")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `study` subcommand."""
    parser = subparsers.add_parser("study", help="run scenarios over seeds and compare them")
    parser.add_argument("scenarios", nargs="*", help="scenario files or shipped scenario names")
    parser.add_argument("--seeds", type=int, default=8, help="seeds 0..N-1 (default 8)")
    parser.add_argument("--out", default="study", help="output folder (default ./study)")
    parser.add_argument("--baseline", help="scenario the others are compared with (default first)")
    parser.add_argument("--scheduler", help="Dask scheduler address or scheduler file")
    parser.add_argument("--workers", type=int, help="local worker processes (default: cores)")
    parser.add_argument("--format", choices=("html", "markdown"), default="html")
    parser.add_argument("--init", metavar="NAME", help="copy a shipped scenario to NAME.toml")
    parser.set_defaults(func=study)


def init(name: str) -> int:
    """Copy the shipped scenario `name` into the current folder for editing."""
    source = SCENARIO_DIR / f"{name}.toml"
    if not source.exists():
        print(
            f"no shipped scenario {name!r}; shipped: {', '.join(shipped_scenarios())}",
            file=sys.stderr,
        )
        return 2
    target = Path(f"{name}.toml")
    if target.exists():
        print(f"{target} exists; not overwritten", file=sys.stderr)
        return 2
    shutil.copyfile(source, target)
    print(f"wrote {target}: edit it, then `techboard study {target}`")
    return 0


def run_scenarios(
    names: list[str],
    *,
    seeds: int,
    out: Path,
    baseline: str | None,
    scheduler: str | None = None,
    workers: int | None = None,
    fmt: str = "html",
    real_market: Path | None = None,
) -> int:
    """Validate the scenarios, run every seed, print the comparison and write the report."""
    specs, infos = [], []
    for name in names:
        try:
            scenario = load_scenario(name)
        except (ScenarioError, OSError) as error:
            print(f"techboard study: {error}", file=sys.stderr)
            return 2
        specs.append(ScenarioSpec(scenario.name, scenario.text))
        infos.append(ScenarioInfo(scenario.name, scenario.description, scenario.board))
    if len({spec.name for spec in specs}) != len(specs):
        print("techboard study: two scenarios share a name", file=sys.stderr)
        return 2
    baseline = baseline or specs[0].name
    if baseline not in {spec.name for spec in specs}:
        print(f"techboard study: baseline {baseline!r} is not among the scenarios", file=sys.stderr)
        return 2
    if scheduler is None:  # compile the kernels once here, not in every worker at once
        print("loading the numba kernels (compiled on the first run after an install)",
              file=sys.stderr, flush=True)  # fmt: skip
        print(f"  ready in {warm_up():.1f}s", file=sys.stderr, flush=True)
    start = time.perf_counter()
    outcomes = run_study(specs, range(seeds), out, workers=workers, scheduler=scheduler)
    wall = time.perf_counter() - start
    rows = compare(outcomes, baseline)
    print(format_table(table(rows)))
    real = lobster_sample(real_market) if real_market else None
    report = write_report(out, infos, outcomes, rows, baseline=baseline, real=real, fmt=fmt)
    failed = sum(not o.ok for o in outcomes)
    print(f"{len(outcomes)} runs ({failed} failed) in {wall:.1f}s; report: {report}")
    return 1 if failed else 0


def study(args: argparse.Namespace) -> int:
    """Run the `study` subcommand."""
    if args.init:
        return init(args.init)
    if not args.scenarios:
        print("techboard study: name at least one scenario (or --init NAME)", file=sys.stderr)
        return 2
    return run_scenarios(
        args.scenarios,
        seeds=args.seeds,
        out=Path(args.out),
        baseline=args.baseline,
        scheduler=args.scheduler,
        workers=args.workers,
        fmt=args.format,
        real_market=shared_data() / "lobster",
    )
