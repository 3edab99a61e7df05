"""The LOBSTER replay: real Nasdaq data through both engines, row by row."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from matching_engine.book import NumbaEngine
from matching_engine.flows import REGIMES, regime_flow
from matching_engine.lobster import (
    NO_ENTRY,
    plan_replay,
    read_lobster,
    record_lobster,
    replay,
    write_lobster,
)
from matching_engine.reference_book import ReferenceEngine
from techboard.cli import main

DATA = Path(os.environ.get("TECHBOARD_SHARED_DATA", Path(__file__).parents[3] / "shared" / "data"))
SAMPLE = DATA / "lobster" / "AMZN_2012-06-21_34200000_57600000_message_1.csv"
CASES = DATA / "lobster-cases"
ENGINES = {"numba": NumbaEngine, "reference": ReferenceEngine}


def write_sample(folder: Path, messages: list[str], book: list[str], header: bool) -> tuple:
    message_csv, orderbook_csv = folder / "X_message_1.csv", folder / "X_orderbook_1.csv"
    message_csv.write_text(("Time,Type,OrderId,Size,Price,Direction\n" if header else "")
                           + "\n".join(messages) + "\n")  # fmt: skip
    orderbook_csv.write_text(("a,b,c,d\n" if header else "") + "\n".join(book) + "\n")
    return message_csv, orderbook_csv


@pytest.mark.parametrize("header", [True, False])
def test_small_sample_replays_exactly_with_or_without_header(tmp_path, header):
    messages = [
        "34200.0,1,10,100,1000100,-1",  # seeds: ask 100.01 x 100, bid 99.99 x 50
        "34200.1,1,11,30,999900,1",  # a bid behind the seeded one
        "34200.2,4,10,40,1000100,-1",  # a buy hits ask 10
        "34200.3,2,11,10,999900,1",  # partial cancel of bid 11
        "34200.4,5,0,7,1000000,1",  # hidden execution: nothing visible changes
        "34200.5,3,10,60,1000100,-1",  # ask 10 deleted
    ]
    book = [
        "1000100,100,999900,50",
        "1000100,100,999900,80",
        "1000100,60,999900,80",
        "1000100,60,999900,70",
        "1000100,60,999900,70",
        "9999999999,0,999900,70",
    ]
    sample = read_lobster(*write_sample(tmp_path, messages, book, header))
    report = replay(sample, ENGINES)
    assert report["mismatched_rows"] == 0
    assert report["checked"] == 5
    assert report["skipped"]["hidden_execution"] == 1
    assert report["execution_agreement"] == 1.0
    assert report["engines_agree"]


def test_a_row_that_disagrees_is_a_mismatch(tmp_path):
    messages = ["34200.0,1,10,100,1000100,-1", "34200.1,1,11,30,999900,1"]
    book = ["1000100,100,999900,50", "1000100,100,999900,81"]
    report = replay(read_lobster(*write_sample(tmp_path, messages, book, True)), ENGINES)
    assert report["mismatched_rows"] == 1  # one row, however many engines differ on it
    assert report["mismatches"] == {"numba": 1, "reference": 1}
    assert report["first_mismatch"]["row"] == 1


def test_two_level_file_is_compared_on_both_levels(tmp_path):
    messages = ["34200.0,1,10,100,1000100,-1", "34200.1,1,11,30,1000200,-1"]
    book = [
        "1000100,100,999900,50,9999999999,0,-9999999999,0",
        "1000100,100,999900,50,1000200,30,-9999999999,0",
    ]
    sample = read_lobster(*write_sample(tmp_path, messages, book, False))
    assert sample.levels == 2
    assert replay(sample, ENGINES)["mismatched_rows"] == 0


@pytest.mark.parametrize(("case", "levels"), [("case1", 1), ("case2", 2)])
def test_unsubmitted_order_enters_only_where_its_price_is_hidden(case, levels):
    if not CASES.exists():
        pytest.skip(f"shared data missing: {CASES}")
    messages = CASES / f"{case}_message_{levels}.csv"
    orderbook = CASES / f"{case}_orderbook_{levels}.csv"
    report = replay(read_lobster(messages, orderbook), ENGINES)
    assert (report["rows"], report["checked"], report["mismatched_rows"]) == (5, 4, 0)
    assert report["skipped"] == {}


def test_unsubmitted_order_that_no_row_hides_is_a_counted_skip(tmp_path):
    messages = [
        "34200.0,1,30,1,995000,1",
        "34200.1,1,31,1,1008000,-1",
        "34200.2,3,7,2,1008000,-1",  # order 7 (ask 100.80 x 2) was never hidden: rows 0-1
    ]
    book = ["1010000,5,995000,1", "1008000,1,995000,1", "1008000,1,995000,1"]
    report = replay(read_lobster(*write_sample(tmp_path, messages, book, False)), ENGINES)
    assert report["skipped"] == {NO_ENTRY: 1}
    assert report["mismatched_rows"] == 0


def test_execution_of_a_later_order_is_realigned_and_counted(tmp_path):
    messages = [
        "34200.0,1,10,100,1000100,-1",
        "34200.1,1,11,30,1000100,-1",
        "34200.2,4,11,30,1000100,-1",  # Nasdaq executes the later order first
        "34200.3,3,10,100,1000100,-1",
    ]
    book = [
        "1000100,100,999900,50",
        "1000100,130,999900,50",
        "1000100,100,999900,50",
        "9999999999,0,999900,50",
    ]
    report = replay(read_lobster(*write_sample(tmp_path, messages, book, False)), ENGINES)
    assert report["mismatched_rows"] == 0
    assert (report["executions"], report["realigned_executions"]) == (1, 1)
    assert report["execution_agreement"] == 0.0


def test_recorded_ten_level_flow_with_shuffled_ids_replays_exactly(tmp_path):
    sample = record_lobster(regime_flow(REGIMES["normal day"], 4_000), levels=10)
    paths = tmp_path / "S_message_10.csv", tmp_path / "S_orderbook_10.csv"
    write_lobster(sample, *paths)
    again = read_lobster(*paths)
    assert np.array_equal(again.book, sample.book) and np.array_equal(again.time_ns, sample.time_ns)
    report = replay(again, ENGINES)
    assert report["rows"] > 2_000 and report["levels"] == 10
    assert report["inferred_orders"] > 0  # the pre-open book is never submitted
    assert report["mismatched_rows"] == 0
    assert report["skipped"] == {}


@pytest.mark.skipif(not SAMPLE.exists(), reason=f"shared data missing: {SAMPLE}")
def test_nasdaq_sample_replays_with_zero_mismatches_and_price_time_agreement():
    orderbook = Path(str(SAMPLE).replace("_message_", "_orderbook_"))
    report = replay(read_lobster(SAMPLE, orderbook), ENGINES)
    assert report["rows"] == 57_515
    assert report["mismatched_rows"] == 0
    assert report["engines_agree"]
    assert report["executions"] == 8974
    assert report["realigned_executions"] == 102
    assert report["execution_agreement"] == round(1 - 102 / 8974, 6)


@pytest.mark.skipif(not SAMPLE.exists(), reason=f"shared data missing: {SAMPLE}")
def test_executions_become_aggressive_orders_not_reductions():
    orderbook = Path(str(SAMPLE).replace("_message_", "_orderbook_"))
    plan = plan_replay(read_lobster(SAMPLE, orderbook))
    executions = plan.commands[plan.expected_contra > 0]
    assert len(executions) == 8974
    assert (executions["tif"] == 1).all() and (executions["kind"] == 1).all()


def test_command_exits_1_on_a_mismatched_row_and_replays_the_engines_named(tmp_path, capsys):
    messages = ["34200.0,1,10,100,1000100,-1", "34200.1,1,11,30,999900,1"]
    row0 = "1000100,100,999900,50"
    good = write_sample(tmp_path, messages, [row0, "1000100,100,999900,80"], False)
    assert main(["replay", "lobster", *map(str, good), "--engines", "numba"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["mismatches"]) == ["numba"]
    bad = write_sample(tmp_path, messages, [row0, "1000100,100,999900,81"], False)
    assert main(["replay", "lobster", *map(str, bad)]) == 1
    assert json.loads(capsys.readouterr().out)["mismatched_rows"] == 1
