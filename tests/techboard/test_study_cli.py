"""`techboard study` and `techboard run` end to end on tiny scenarios: the table, the report,
runs kept on disk, the same records on a Dask LocalCluster as in local processes, --init, and
clear refusals."""

from __future__ import annotations

import os

import pytest
from distributed import LocalCluster

from simulation.run import WARM_UP
from studies.parquet import read_records
from studies.runner import run_folder
from techboard.cli import main

BOOK = WARM_UP.replace('name = "warm-up"', 'name = "book"')
DESK = BOOK.replace('name = "book"', 'name = "desk"').replace('"star"', '"regional"')
DESK = DESK.replace("shares = 1_000\n", "shares = 10_000\n")


@pytest.fixture
def scenarios(tmp_path):
    paths = []
    for text in (BOOK, DESK):
        path = tmp_path / f"{text.split('name = ')[1].split()[0].strip(chr(34))}.toml"
        path.write_text(text)
        paths.append(str(path))
    return paths


def digests(out, names=("book", "desk"), seeds=(0, 1)):
    return {(n, s): read_records(run_folder(out, n, s)).digest() for n in names for s in seeds}


def test_a_study_prints_the_table_writes_the_report_and_keeps_its_runs(tmp_path, scenarios, capsys):
    out = tmp_path / "study"
    args = ["study", *scenarios, "--seeds", "2", "--out", str(out), "--workers", "2"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "volume" in printed and "desk" in printed and "95% CI" in printed
    assert "4 runs (0 failed)" in printed
    assert (out / "index.html").stat().st_size > 10_000
    first = digests(out)
    stamp = {k: os.stat(run_folder(out, *k)).st_mtime_ns for k in first}
    assert main(args) == 0  # everything is on disk: nothing runs again
    assert {k: os.stat(run_folder(out, *k)).st_mtime_ns for k in first} == stamp
    assert digests(out) == first


def test_a_study_on_a_dask_cluster_gives_the_local_records(tmp_path, scenarios):
    assert main(["study", *scenarios, "--seeds", "2", "--out", str(tmp_path / "local")]) == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        remote = ["--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address]
        assert main(["study", *scenarios, "--seeds", "2", *remote]) == 0
    assert digests(tmp_path / "dask") == digests(tmp_path / "local")


def test_run_writes_the_report_of_the_scenarios_it_is_given(tmp_path, scenarios, capsys):
    out = tmp_path / "report"
    assert main(["run", "--seeds", "1", "--out", str(out), "--scenarios", *scenarios]) == 0
    printed = capsys.readouterr().out
    assert "techboard run:" in printed and "peak memory" in printed
    assert (out / "index.html").exists()


def test_init_copies_a_shipped_scenario(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["study", "--init", "fee-cut"]) == 0
    assert 'extends = "regional-today"' in (tmp_path / "fee-cut.toml").read_text()
    assert main(["study", "--init", "fee-cut"]) == 2  # never overwritten
    assert main(["study", "--init", "nothing"]) == 2
    assert "shipped: fee-cut" in capsys.readouterr().err


def test_a_bad_scenario_stops_the_study_before_any_run(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(BOOK.replace("count = 20", "count = -1"))
    assert main(["study", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "population[0].count = -1 is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
