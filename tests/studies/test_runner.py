"""The study runner: local processes and a Dask LocalCluster give the same records; failed runs
are reported while the rest complete; finished runs are not run again; Parquet loads."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import polars as pl
import pytest
from distributed import LocalCluster
from synthetic_records import simulate_synthetic

from studies import runner
from studies.parquet import read_records
from studies.runner import DONE, ScenarioSpec, model_digest, run_folder, run_study

SPECS = [ScenarioSpec("alpha", "name = 'alpha'\n"), ScenarioSpec("beta", "name = 'beta'\n")]


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        yield cluster


def digests(outcomes):
    return {(o.scenario, o.seed): o.digest for o in outcomes}


def test_local_and_cluster_runs_give_the_same_records(tmp_path, cluster):
    local = run_study(
        SPECS, range(3), tmp_path / "local", workers=2, simulator=simulate_synthetic, progress=None
    )
    remote = run_study(
        SPECS,
        range(3),
        tmp_path / "dask",
        scheduler=cluster.scheduler_address,
        simulator=simulate_synthetic,
        progress=None,
    )
    assert all(o.ok for o in local + remote)
    assert digests(local) == digests(remote)
    assert len(set(digests(local).values())) == 3  # a seed gives its own records
    folder = run_folder(tmp_path / "dask", "beta", 2)
    assert read_records(folder).digest() == digests(local)["beta", 2]


def test_a_failed_run_is_reported_and_the_rest_complete(tmp_path):
    specs = [ScenarioSpec("bad", "fail = true\n"), SPECS[0]]
    stream = io.StringIO()
    outcomes = run_study(
        specs, range(3), tmp_path, workers=2, simulator=simulate_synthetic, progress=stream
    )
    failed = [o for o in outcomes if not o.ok]
    assert [(o.scenario, o.seed) for o in failed] == [("bad", 1)]
    assert "this run was told to fail" in failed[0].error
    assert "run bad seed 1 failed: ValueError" in stream.getvalue()
    assert "runs 6/6" in stream.getvalue()
    assert not (run_folder(tmp_path, "bad", 1) / DONE).exists()
    assert sum(o.ok for o in outcomes) == 5


def test_finished_runs_are_not_run_again(tmp_path):
    first = run_study(
        SPECS[:1], range(2), tmp_path, workers=1, simulator=simulate_synthetic, progress=None
    )
    again = run_study(
        SPECS[:1], range(3), tmp_path, workers=1, simulator=simulate_synthetic, progress=None
    )
    assert [o.resumed for o in again] == [True, True, False]
    assert digests(again[:2]) == digests(first)
    assert again[0].metrics == first[0].metrics
    changed = ScenarioSpec("alpha", "name = 'alpha'\nchanged = 1\n")
    rerun = run_study(
        [changed], range(2), tmp_path, workers=1, simulator=simulate_synthetic, progress=None
    )
    assert not any(o.resumed for o in rerun)


def test_parquet_loads_in_pandas_and_polars(tmp_path):
    (outcome,) = run_study(
        SPECS[:1], [0], tmp_path, workers=1, simulator=simulate_synthetic, progress=None
    )
    assert outcome.ok
    folder = run_folder(tmp_path, "alpha", 0)
    trades = simulate_synthetic("", 0).trades
    frame = pd.read_parquet(folder / "trades.parquet")
    assert list(frame.columns) == list(trades.dtype.names)
    assert np.array_equal(frame["price"].to_numpy(), trades["price"])
    assert frame["price"].dtype == np.int64
    quotes = pl.read_parquet(folder / "quotes.parquet")
    assert quotes.height == len(simulate_synthetic("", 0).quotes)
    assert quotes["bid"].dtype == pl.Int64


def test_runs_made_by_other_code_are_run_again(tmp_path):
    run_study(SPECS[:1], range(2), tmp_path, workers=1, simulator=simulate_synthetic, progress=None)
    marker = run_folder(tmp_path, "alpha", 1) / DONE
    done = json.loads(marker.read_text())
    assert done["model_sha256"] == model_digest()
    marker.write_text(json.dumps({**done, "model_sha256": "0" * 64}))  # another version's run
    again = run_study(
        SPECS[:1], range(2), tmp_path, workers=1, simulator=simulate_synthetic, progress=None
    )
    assert [o.resumed for o in again] == [True, False]
    assert json.loads(marker.read_text())["model_sha256"] == model_digest()


def test_the_model_hash_follows_the_simulator_source(tmp_path, monkeypatch, request):
    request.addfinalizer(model_digest.cache_clear)  # the next test hashes the real packages
    package = tmp_path / "toy_model"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "agents.py").write_text("SPREAD = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(runner, "MODEL_PACKAGES", ("toy_model",))
    model_digest.cache_clear()
    before = model_digest()
    (package / "agents.py").write_text("SPREAD = 2\n")
    model_digest.cache_clear()
    assert model_digest() != before
