"""Run every (scenario, seed) pair of a study: local worker processes or a Dask cluster.

One code path for both: a task runs a few (scenario, seed) pairs with `execute` and returns
their records and metrics; the caller writes each run's folder (`runs/<scenario>/seed-<n>/`: the
Parquet tables, then `done.json` with the scenario's hash, the model's hash, the records' digest
and the metrics). A run whose folder has a `done.json` for the same scenario and model hashes is
not run again: runs made by other code (an upgrade, an edit of the simulator) are made again,
not reused. A run that raises is reported with its error; the others complete.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as local_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from simulation.records import RunRecords
from studies.metrics import run_metrics
from studies.parquet import write_records

DONE = "done.json"
MODEL_PACKAGES = ("matching_engine", "exchange", "instruments", "simulation", "studies.metrics")
# what a run's records and metrics come from: their source and data files make the model hash
TASKS_PER_WORKER = 4  # Dask tasks per worker thread: balance against the ~1.5 ms a task costs

Simulator = Callable[[str, int], RunRecords]  # (scenario TOML text, seed) -> the run's records


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario of a study: its name (the run folder's) and its TOML text."""

    name: str
    text: str

    @property
    def digest(self) -> str:
        """Return the SHA-256 of the scenario text (a changed scenario is run again)."""
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass
class RunOutcome:
    """What one (scenario, seed) run gave: its metrics and digest, or the error it raised."""

    scenario: str
    seed: int
    metrics: dict[str, dict[str, float]] | None = None
    digest: str | None = None
    wall_s: float = 0.0
    error: str | None = None
    resumed: bool = False
    records: RunRecords | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Return whether the run completed."""
        return self.error is None


def simulate_scenario(text: str, seed: int) -> RunRecords:
    """Load a scenario from its TOML text and simulate it with one seed."""
    from simulation.run import simulate
    from simulation.scenario import load_scenario

    return simulate(load_scenario(text), seed)


def execute(
    runs: list[tuple[str, str, int]], simulator: Simulator, out: Path | None = None
) -> list[RunOutcome]:
    """Run (scenario name, scenario text, seed) triples one after the other: one task's work.
    With `out`, each run's folder is written here (a local worker: the study's process then
    neither receives nor writes the records); else the outcomes carry the records."""
    outcomes = []
    for name, text, seed in runs:
        start = time.perf_counter()
        try:
            records = simulator(text, seed)
            outcome = RunOutcome(
                name,
                seed,
                metrics=run_metrics(records),
                digest=records.digest(),
                wall_s=time.perf_counter() - start,
                records=records,
            )
            if out is not None:
                _store(out, ScenarioSpec(name, text), outcome)
            outcomes.append(outcome)
        except Exception as error:  # a run's failure is reported, the study goes on
            where = traceback.extract_tb(error.__traceback__)[-1]
            outcomes.append(
                RunOutcome(
                    name,
                    seed,
                    wall_s=time.perf_counter() - start,
                    error=f"{type(error).__name__}: {error} ({Path(where.filename).name}:"
                    f"{where.lineno})",
                )
            )
    return outcomes


def run_folder(out: Path, scenario: str, seed: int) -> Path:
    """Return the folder of one run's records and done marker."""
    return out / "runs" / scenario / f"seed-{seed:04d}"


@functools.cache
def model_digest() -> str:
    """Return the sha256 of the source and data files of MODEL_PACKAGES (as installed)."""
    sha = hashlib.sha256()
    for name in MODEL_PACKAGES:
        module = Path(importlib.import_module(name).__file__ or "")
        files = sorted(
            path
            for path in (module.parent.rglob("*") if module.name == "__init__.py" else [module])
            if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts
        )
        for path in files:
            sha.update(f"{name}/{path.relative_to(module.parent).as_posix()}\n".encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()


def _finished(out: Path, spec: ScenarioSpec, seed: int) -> RunOutcome | None:
    marker = run_folder(out, spec.name, seed) / DONE
    if not marker.exists():
        return None
    done = json.loads(marker.read_text())
    if (done.get("scenario_sha256"), done.get("model_sha256")) != (spec.digest, model_digest()):
        return None
    return RunOutcome(
        spec.name,
        seed,
        metrics=done["metrics"],
        digest=done["digest"],
        wall_s=done["wall_s"],
        resumed=True,
    )


def _store(out: Path, spec: ScenarioSpec, outcome: RunOutcome) -> None:
    folder = run_folder(out, outcome.scenario, outcome.seed)
    write_records(outcome.records, folder)
    done = {
        "scenario": outcome.scenario,
        "seed": outcome.seed,
        "scenario_sha256": spec.digest,
        "model_sha256": model_digest(),
        "digest": outcome.digest,
        "wall_s": outcome.wall_s,
        "metrics": outcome.metrics,
    }
    partial = folder / (DONE + ".part")
    partial.write_text(json.dumps(done, indent=1))
    partial.replace(folder / DONE)
    outcome.records = None


class Progress:
    """A one-line progress bar over runs on stderr (or any stream)."""

    def __init__(self, total: int, stream: TextIO | None = sys.stderr, width: int = 30) -> None:
        self.total, self.stream, self.width = total, stream, width
        self.done = self.failed = 0
        self.start = time.perf_counter()

    def update(self, outcome: RunOutcome) -> None:
        """Count one finished run and redraw the line; failed runs get their own line."""
        self.done += 1
        if self.stream is None:
            return
        if not outcome.ok:
            self.failed += 1
            print(
                f"\rrun {outcome.scenario} seed {outcome.seed} failed: {outcome.error}",
                file=self.stream,
            )
        filled = self.width * self.done // max(self.total, 1)
        elapsed = time.perf_counter() - self.start
        print(
            f"\rruns {self.done}/{self.total} [{'#' * filled}{'.' * (self.width - filled)}] "
            f"{elapsed:.1f}s, {self.failed} failed",
            end="\n" if self.done == self.total else "",
            file=self.stream,
            flush=True,
        )


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _local(
    pending: list, simulator: Simulator, workers: int, out: Path
) -> Iterable[list[RunOutcome]]:
    if workers <= 1:
        for run in pending:
            yield execute([run], simulator, out)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(execute, [run], simulator, out): run for run in pending}
        for future in local_completed(futures):
            yield _result(future, [futures[future]])


def _dask(pending: list, simulator: Simulator, scheduler: str) -> Iterable[list[RunOutcome]]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    json_file = scheduler.endswith(".json")
    client = Client(scheduler_file=scheduler) if json_file else Client(scheduler)
    with client:
        threads = max(sum(client.nthreads().values()), 1)
        size = max(1, math.ceil(len(pending) / (TASKS_PER_WORKER * threads)))
        futures = {}
        for chunk in _chunks(pending, size):
            futures[client.submit(execute, chunk, simulator, pure=False)] = chunk
        for future in dask_completed(futures):
            yield _result(future, futures[future])


def _result(future, chunk: list) -> list[RunOutcome]:
    """Return a task's outcomes, or each of its runs failed with the task's error."""
    try:
        return future.result()
    except Exception as error:  # the worker died or the task could not run
        message = f"{type(error).__name__}: {error}"
        return [RunOutcome(name, seed, error=message) for name, _, seed in chunk]


def run_study(
    specs: list[ScenarioSpec],
    seeds: Iterable[int],
    out: Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    simulator: Simulator = simulate_scenario,
    progress: TextIO | None = sys.stderr,
) -> list[RunOutcome]:
    """Run every (scenario, seed) pair not already on disk and return every run's outcome.

    Local worker processes (`workers`, default the machine's cores) unless a Dask `scheduler`
    address (tcp://host:8786) or scheduler file (*.json) is given.
    """
    seeds = list(seeds)
    by_name = {spec.name: spec for spec in specs}
    outcomes: dict[tuple[str, int], RunOutcome] = {}
    pending = []
    for spec in specs:
        for seed in seeds:
            finished = _finished(out, spec, seed)
            if finished:
                outcomes[spec.name, seed] = finished
            else:
                pending.append((spec.name, spec.text, seed))
    bar = Progress(len(pending), progress)
    if progress is not None and outcomes:
        print(f"{len(outcomes)} runs already on disk in {out}", file=progress)
    if scheduler:
        batches = _dask(pending, simulator, scheduler)
    else:
        batches = _local(pending, simulator, workers or os.cpu_count() or 1, out)
    for batch in batches:
        for outcome in batch:
            if outcome.records is not None:  # from a Dask worker, which may not share our disk
                _store(out, by_name[outcome.scenario], outcome)
            outcomes[outcome.scenario, outcome.seed] = outcome
            bar.update(outcome)
    return [outcomes[spec.name, seed] for spec in specs for seed in seeds]
