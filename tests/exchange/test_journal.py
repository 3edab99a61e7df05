"""Journal: round trip, sequence continuity, durability, torn tails at every byte, corruption
refused with its offset."""

from __future__ import annotations

import numpy as np
import pytest
from exchange_helpers import BUY, MONDAY, PRICE, SELL, kinds, make_exchange

from exchange.orders import batch, order
from exchange.venue.exchange import Exchange
from exchange.venue.journal import (
    DURABILITY,
    HEADER,
    MAGIC,
    JournalError,
    JournalReader,
    JournalWriter,
    TornTail,
    encode,
)
from matching_engine.dtypes import COMMAND_DTYPE

PAYLOADS = [
    {"type": "deposit", "participant": 1, "amount": 10_000_000},
    np.zeros(3, dtype=COMMAND_DTYPE).tobytes(),
    {"type": "halt", "instrument": 7, "nested": {"ids": [1, 2, 3]}, "note": "上交所"},
]


def written(tmp_path, payloads=PAYLOADS, durability="fsync"):
    path = tmp_path / "journal.tbj"
    with JournalWriter(path, durability) as writer:
        assert writer.write_batch(payloads[:2]) == 2
        for payload in payloads[2:]:
            writer.append(payload)
    return path


@pytest.mark.parametrize("durability", DURABILITY)
def test_round_trip(tmp_path, durability):
    path = written(tmp_path, durability=durability)
    records = JournalReader(path).records()
    assert [r.seq for r in records] == [1, 2, 3]
    assert [r.payload for r in records] == PAYLOADS
    assert records[0].offset == len(MAGIC)
    batch = np.frombuffer(records[1].payload, dtype=COMMAND_DTYPE)
    assert batch.shape == (3,)


def test_reopening_continues_the_sequence(tmp_path):
    path = written(tmp_path)
    with JournalWriter(path) as writer:
        assert writer.append({"more": True}) == 4
    assert [r.seq for r in JournalReader(path).records()] == [1, 2, 3, 4]


def test_nothing_is_written_before_flush(tmp_path):
    path = tmp_path / "j.tbj"
    writer = JournalWriter(path)
    writer.append({"a": 1})
    assert JournalReader(path).records() == []
    writer.flush()
    assert len(JournalReader(path).records()) == 1
    writer.close()


def test_a_torn_tail_is_reported_at_every_byte_of_the_last_record(tmp_path):
    path = written(tmp_path)
    data = path.read_bytes()
    last = JournalReader(path).records()[-1].offset
    assert path.stat().st_size > last + HEADER.size
    for cut in range(last + 1, len(data)):
        path.write_bytes(data[:cut])
        reader = JournalReader(path)
        records = list(reader)
        assert [r.seq for r in records] == [1, 2], cut
        assert reader.torn is not None and reader.torn.offset == last, cut
        with pytest.raises(TornTail, match=f"torn tail at byte {last}"):
            JournalReader(path).records()
    path.write_bytes(data[:last])
    reader = JournalReader(path)
    assert len(reader.records()) == 2 and reader.torn is None


def test_a_flipped_byte_anywhere_in_the_last_record_is_a_torn_tail(tmp_path):
    path = written(tmp_path)
    data = path.read_bytes()
    last = JournalReader(path).records()[-1].offset
    for at in range(last, len(data)):
        path.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
        reader = JournalReader(path)
        assert len(reader.records(allow_torn_tail=True)) == 2, at
        assert reader.torn.offset == last, at
    assert "CRC32 mismatch in the record body" in reader.torn.why


def test_a_flipped_byte_anywhere_before_the_last_record_is_corruption_at_its_offset(tmp_path):
    path = written(tmp_path)
    data = path.read_bytes()
    first, second, _ = (r.offset for r in JournalReader(path).records())
    for at in range(first, second + HEADER.size):
        path.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
        damaged = first if at < second else second
        with pytest.raises(JournalError, match=f"corrupt record at byte {damaged} ") as error:
            JournalReader(path).records(allow_torn_tail=True)
        assert "damaged before its end" in str(error.value), at
        with pytest.raises(JournalError):
            JournalWriter(path, truncate_torn_tail=True)  # never cut away good records


def test_the_buffer_durability_writes_only_when_the_buffer_fills_or_at_close(tmp_path):
    path = tmp_path / "j.tbj"
    writer = JournalWriter(path, "buffer")
    writer.write_batch([{"a": 1}])
    assert path.stat().st_size == 0
    writer.close()
    assert [r.payload for r in JournalReader(path).records()] == [{"a": 1}]
    with pytest.raises(ValueError, match="durability 'always' is not one of fsync, flush, buffer"):
        JournalWriter(path, "always")


def test_a_sequence_gap_is_refused(tmp_path):
    path = tmp_path / "gap.tbj"
    path.write_bytes(MAGIC + encode(1, {"a": 1}) + encode(3, {"a": 3}))
    with pytest.raises(JournalError, match=r"sequence gap at byte .*: got 3, expected 2"):
        JournalReader(path).records()
    path.write_bytes(MAGIC + encode(2, {"a": 1}))
    with pytest.raises(JournalError, match="got 2, expected 1"):
        JournalReader(path).records()


def test_a_file_that_is_not_a_journal_is_refused(tmp_path):
    path = tmp_path / "x.tbj"
    path.write_bytes(b"PK\x03\x04 zip")
    with pytest.raises(JournalError, match="not a journal"):
        JournalReader(path).records()
    path.write_bytes(b"TBJ\x01" + bytes(20))
    with pytest.raises(JournalError, match="journal format 1, this version reads format 2"):
        JournalReader(path).records()
    path.write_bytes(MAGIC[:2])
    reader = JournalReader(path)
    assert reader.records(allow_torn_tail=True) == [] and reader.torn.offset == 0


def test_the_writer_refuses_a_torn_journal_unless_told_to_cut_it(tmp_path):
    path = written(tmp_path)
    last = JournalReader(path).records()[-1].offset
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(TornTail):
        JournalWriter(path)
    with JournalWriter(path, truncate_torn_tail=True) as writer:
        assert writer.append({"after": "repair"}) == 3
    records = JournalReader(path).records()
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[-1].offset == last and records[-1].payload == {"after": "repair"}


def test_a_torn_magic_is_cut_to_an_empty_journal(tmp_path):
    path = tmp_path / "j.tbj"
    path.write_bytes(MAGIC[:3])
    with JournalWriter(path, truncate_torn_tail=True) as writer:
        assert writer.append({"a": 1}) == 1
    assert [r.seq for r in JournalReader(path).records()] == [1]


def test_payloads_must_be_maps_or_bytes(tmp_path):
    with JournalWriter(tmp_path / "j.tbj") as writer:
        with pytest.raises(TypeError, match="payload must be a dict or bytes, got list"):
            writer.append([1, 2])
        assert writer.append(bytearray(b"\x01\x02")) == 1
    assert JournalReader(tmp_path / "j.tbj").records()[0].payload == b"\x01\x02"


def test_a_batch_note_is_journaled_and_replay_shows_each_record_after_applying_it(tmp_path):
    path = tmp_path / "venue.tbj"
    live = make_exchange(journal=path)
    live.open_day(MONDAY)
    now = live.calendar.local_ns(MONDAY, "10:00")
    live.submit(batch(order(0, 0, BUY, PRICE, 200, 1, now)), note={"ids": ["a1"]})
    live.submit(batch(order(1, 0, SELL, PRICE, 200, 1, now)))
    seen = []

    def observe(exchange, record):
        op = record.payload["op"]
        events = exchange.last_events
        orders = kinds(events[events["command"] >= 0]) if op == "submit" else []
        seen.append((record.seq, op, orders))

    replayed = Exchange.replay(path, observe=observe)
    submits = [r.payload for r in JournalReader(path).records() if r.payload["op"] == "submit"]
    assert [s.get("note") for s in submits] == [{"ids": ["a1"]}, None]
    assert [s[0] for s in seen] == list(range(2, 13))  # all but the genesis, in order
    assert seen[-2:] == [(11, "submit", ["ACCEPTED"]), (12, "submit", ["ACCEPTED", "TRADE"])]
    assert replayed.digest() == live.digest()
