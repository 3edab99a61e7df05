"""Each demo notebook runs headless from start to end with the numbers of its story, passes as
a pytest module (its `test_*` cells), and `techboard demo` lists, refuses and exports them."""

from __future__ import annotations

import csv
import importlib
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from techboard.cli import main
from techboard.demos import DEMOS, notebook

FOLDER = Path(notebook("auction")).parent
HELPERS = {"__init__", "memo", "text"}  # modules of techboard/demos that are not notebooks


def run_headless(name: str) -> dict:
    """Run a demo notebook's cells in order, as `marimo export` does, and return its names."""
    _, defs = importlib.import_module(f"techboard.demos.{name}").app.run()
    return defs


def test_every_notebook_is_listed():
    files = {path.stem for path in FOLDER.glob("*.py")} - HELPERS
    assert files == set(DEMOS)


def test_the_auction_uncrosses_the_opening_orders():
    defs = run_headless("auction")
    assert defs["result"] == defs["before"]  # no order of the audience by default
    assert (defs["result"]["price"], defs["result"]["volume"]) == ("9.98", 10_100)
    assert defs["result"]["imbalance"] == 3_800
    assert len(defs["orders"]) == 32


def test_the_book_stops_after_the_market_order():
    defs = run_headless("book")
    engine = defs["engine"]
    assert len(defs["events"]) == 3  # the default step is the market buy
    assert [(level.price, level.quantity) for level in engine.depth(0, 1, 5)] == [
        (100_200, 100),
        (100_300, 400),
    ]


def test_the_convertible_values_the_example_bond():
    defs = run_headless("convertible")
    assert defs["now"].parity == pytest.approx(100.0)
    assert defs["now"].bond_floor < defs["now"].value
    revised = defs["terms_now"].conversion_price
    assert revised < 100_000  # the default story cuts the conversion price
    assert defs["done"].shares == 137 * 1_000_000 // revised


def test_the_costs_are_those_of_the_cli(tmp_path, capsys):
    defs = run_headless("costs")
    assert main(["costs", "--firm", "example", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    net: dict[str, int] = defaultdict(int)
    with (tmp_path / "costs.csv").open() as handle:
        for row in csv.DictReader(handle):
            net[row["board"]] += int(row["amount"])
    assert {board: sums["net"] for board, sums in defs["sums"].items()} == net
    assert defs["saved"] == net["standard"] - net["techboard"] > 0


def test_the_liquidity_study_runs_both_boards():
    defs = run_headless("liquidity")
    assert [(o.scenario, o.ok) for o in defs["outcomes"]] == [("continuous", True), ("call", True)]
    assert all(defs["means"][name, "trades"] > 0 for name in ("continuous", "call"))
    assert set(defs["charts"]) >= {"price paths", "spread and depth distributions"}


def test_each_notebook_passes_as_a_test_module():
    files = [str(notebook(name)) for name in DEMOS]
    # marimo collects a notebook's test cells only when pytest is not already running a test
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_the_cli_lists_the_demos(capsys):
    assert main(["demo", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(DEMOS)


def test_the_cli_asks_for_a_name(capsys):
    assert main(["demo"]) == 2
    assert "--list" in capsys.readouterr().err


def test_the_cli_exports_a_demo_as_html(tmp_path, capsys):
    out = tmp_path / "book.html"
    snapshots = FOLDER / "__marimo__"  # marimo's session snapshot beside an exported notebook
    kept = snapshots.exists()
    assert main(["demo", "book", "--html", str(out)]) == 0
    assert snapshots.exists() == kept
    assert "needs a network" in capsys.readouterr().out
    page = out.read_text()
    assert "price-time priority" in page and "Level-2 view" in page
