"""`techboard journal verify|dump|replay FILE` on a gateway's journal: whole, torn, corrupt."""

from __future__ import annotations

import json

import pytest

from exchange.venue.journal import JournalReader
from gateway.config import parse_config
from gateway.protocol import encode, new_order
from gateway.server import Gateway
from techboard.cli import main

CASH = 10**12
ORDERS = "techboard/v1/participants/{}/orders"


@pytest.fixture
def journal(tmp_path):
    """Return the path of a gateway journal with two trades (written without a broker)."""
    path = tmp_path / "gateway.tbj"
    gateway = Gateway(parse_config({
        "board": "star", "journal": str(path), "session": {"date": "2025-03-03", "start": "10:00"},
        "instrument": [{"symbol": "AAA", "class": "equity", "previous_close": 100_000}],
        "participant": [{"name": "alice", "cash": CASH}, {"name": "bob", "shares": {"AAA": 1000}}],
    }))  # fmt: skip
    for i in range(2):
        gateway.receive(ORDERS.format("alice"), encode(new_order(f"a{i}", "AAA", "buy", 200,
                                                                 100_000)), None)  # fmt: skip
        gateway.receive(ORDERS.format("bob"), encode(new_order(f"b{i}", "AAA", "sell", 200,
                                                               100_000)), None)  # fmt: skip
        gateway.flush()
    gateway.exchange.journal.close()
    return path


def run(capsys, *argv):
    status = main(["journal", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_verify_counts_the_records_of_a_whole_journal(journal, capsys):
    status, out, err = run(capsys, "verify", str(journal))
    records = JournalReader(journal).records()
    assert status == 0 and not err
    assert json.loads(out) == {"records": len(records), "last_seq": records[-1].seq,
                               "bytes": journal.stat().st_size, "torn_at": None}  # fmt: skip


def test_dump_shows_each_batch_with_its_rows_and_client_order_ids(journal, capsys):
    status, out, _ = run(capsys, "dump", str(journal))
    lines = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
    assert lines[0]["op"] == "genesis"
    submits = [x for x in lines if x["op"] == "submit"]
    assert [x["note"]["ids"] for x in submits] == [["a0", "b0"], ["a1", "b1"]]
    assert submits[0]["rows"][1]["quantity"] == 200 and submits[0]["rows"][1]["side"] == 1
    status, out, _ = run(capsys, "dump", str(journal), "--from", "2", "--to", "3")
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [2, 3]


def test_replay_rebuilds_accounts_that_conserve_cash_with_fees(journal, capsys):
    status, out, _ = run(capsys, "replay", str(journal))
    state = json.loads(out)
    assert status == 0 and state["day"] == "2025-03-03"
    alice, bob = state["accounts"]
    assert (alice["positions"], bob["positions"]) == ({"AAA": 400}, {"AAA": 600})
    assert state["cash"] + sum(state["fees_collected"].values()) == CASH
    assert state["md_seq"]["AAA"] > 0


def test_a_torn_tail_is_reported_with_its_offset_and_the_file_is_left_alone(journal, capsys):
    last = JournalReader(journal).records()[-1].offset
    data = journal.read_bytes()[:-7]
    journal.write_bytes(data)
    for action in ("verify", "dump", "replay"):
        status, _, err = run(capsys, action, str(journal))
        assert status == 1 and f"torn tail at byte {last}" in err, action
    assert journal.read_bytes() == data


def test_corruption_before_the_end_names_its_offset_and_exits_2(journal, capsys):
    second = JournalReader(journal).records()[1].offset
    data = bytearray(journal.read_bytes())
    data[second + 20] ^= 0xFF
    journal.write_bytes(bytes(data))
    for action in ("verify", "dump", "replay"):
        status, _, err = run(capsys, action, str(journal))
        assert status == 2 and f"corrupt record at byte {second}" in err, action


def test_a_file_that_is_not_a_journal_exits_2(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("hello, not a journal")
    status, _, err = run(capsys, "verify", str(path))
    assert status == 2 and "not a journal" in err
    status, _, err = run(capsys, "replay", str(tmp_path / "missing.tbj"))
    assert status == 2 and "missing.tbj" in err
