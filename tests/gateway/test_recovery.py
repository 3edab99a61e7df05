"""Recovery of `techboard gateway serve` from its journal after SIGKILL: what it acknowledged
stays, resends are answered with the first outcome, sequence and trade numbers continue, the
reports a crash kept from the broker are sent again, a torn tail is cut and reported, and a
corruption before the end stops start-up naming its byte offset."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from gateway_process import start_gateway, write_config

from exchange.venue.journal import JournalReader, encode
from gateway.client import GatewayClient
from gateway.config import load_config
from gateway.protocol import encode as wire
from gateway.protocol import new_order
from gateway.server import Gateway

PRICE = 100_000


def client(broker, name: str) -> GatewayClient:
    user = broker.user(name)
    return GatewayClient(broker.host, broker.port, user.username, user.password)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


async def answers(c: GatewayClient, ids: set[str], timeout: float = 10.0) -> dict[str, dict]:
    """Collect reports until every id in ids has its ack or reject; return them by id."""
    got: dict[str, dict] = {}
    while not ids <= got.keys():
        report = await c.next_report(timeout)
        if report["type"] in ("ack", "reject"):
            got.setdefault(report["id"], report)
    return got


async def until(c: GatewayClient, want, timeout: float = 10.0) -> list[dict]:
    """Collect reports until one satisfies want; return them all."""
    got = [await c.next_report(timeout)]
    while not want(got[-1]):
        got.append(await c.next_report(timeout))
    return got


def journal_cli(*argv: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "techboard.cli", "journal", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_gateway_killed_with_sigkill_restarts_with_what_it_acknowledged(own_broker, tmp_path):
    config = write_config(tmp_path, own_broker)
    process = start_gateway(config, own_broker)
    buys = {f"k-a{i}" for i in range(20)}  # mm2 keeps its orders when it leaves

    async def before():
        async with client(own_broker, "mm2") as buyer, client(own_broker, "bob") as bob:
            for i, id in enumerate(sorted(buys)):
                await buyer.place(id, "AAA", "buy", 200, price=PRICE - 100 * (i % 4))
            acks = await answers(buyer, buys)
            await bob.place("k-b0", "AAA", "sell", 600, price=PRICE - 300)
            fills = await until(bob, lambda r: r["type"] == "fill" and r["leaves"] == 0)
            return acks, fills

    acks, fills = asyncio.run(before())
    kill(process)
    records = JournalReader(tmp_path / "gateway.tbj").records()
    process = start_gateway(config, own_broker)

    async def after():
        async with client(own_broker, "mm2") as buyer, client(own_broker, "bob") as bob:
            for id in sorted(buys):  # resends, as a client unsure of its answers would
                await buyer.place(id, "AAA", "buy", 900, price=PRICE)
            again = await answers(buyer, buys)
            await bob.place("k-b1", "AAA", "sell", 200, price=PRICE - 300)
            fill = await until(bob, lambda r: r["type"] == "fill" and r["id"] == "k-b1")
            return again, fill[-1]

    try:
        again, fill = asyncio.run(after())
    finally:
        kill(process)
    assert all(again[id]["duplicate"] for id in buys)
    assert {id: r["order_id"] for id, r in again.items()} == {
        id: r["order_id"] for id, r in acks.items()
    }
    assert all(again[id]["qty"] == 200 for id in buys)  # the first order, not the resend
    assert fill["trade"] > max(f["trade"] for f in fills if f["type"] == "fill")  # continue
    after_records = JournalReader(tmp_path / "gateway.tbj").records()
    assert after_records[: len(records)] == records  # nothing rewritten, no number reused
    assert [r.seq for r in after_records] == list(range(1, len(after_records) + 1))
    ids = [
        i for r in after_records if r.payload["op"] == "submit" for i in r.payload["note"]["ids"]
    ]
    assert all(ids.count(id) == 1 for id in buys)  # each executed once
    state = json.loads(journal_cli("replay", str(tmp_path / "gateway.tbj")).stdout)
    cash = sum(p.cash for p in load_config(config).participants)
    assert state["cash"] + sum(state["fees_collected"].values()) == cash


def test_reports_a_crash_kept_from_the_broker_are_sent_again_on_restart(own_broker, tmp_path):
    config = write_config(tmp_path, own_broker)
    crashed = Gateway(load_config(config))  # journals and runs a batch, never publishes it
    for name, side, id in (("alice", "buy", "lost-a"), ("bob", "sell", "lost-b")):
        order = wire(new_order(id, "AAA", side, 200, PRICE))
        crashed.receive(f"techboard/v1/participants/{name}/orders", order, None)
    crashed.flush()
    del crashed  # as if killed after the fsync: the journal holds the batch, nobody saw it

    async def scenario():
        async with client(own_broker, "alice") as alice:
            process = start_gateway(config, own_broker)
            try:
                first = [await alice.next_report() for _ in range(2)]
                await alice.place("seen-a", "AAA", "buy", 200, price=PRICE - 500)
                seen = await alice.next_report()
                await asyncio.sleep(0.5)  # the broker's PUBACK reaches the gateway
                await alice.place("last-a", "AAA", "buy", 200, price=PRICE - 600)
                last = await alice.next_report()
            finally:
                kill(process)
            process = start_gateway(config, own_broker)
            try:
                resent = await alice.next_report()
                with pytest.raises(TimeoutError):
                    await alice.next_report(1.5)
            finally:
                kill(process)
            return first, seen, last, resent

    first, seen, last, resent = asyncio.run(scenario())
    assert [(r["type"], r["id"]) for r in first] == [("ack", "lost-a"), ("fill", "lost-a")]
    assert (seen["id"], last["id"]) == ("seen-a", "last-a")
    assert resent == last  # only the batch not known to be acknowledged is sent again


def torn_run(own_broker, tmp_path: Path) -> Path:
    """Run a gateway that trades once, kill it, and return its config file."""
    config = write_config(tmp_path, own_broker)
    process = start_gateway(config, own_broker)

    async def trade():
        async with client(own_broker, "alice") as alice, client(own_broker, "bob") as bob:
            await alice.place("t-a", "AAA", "buy", 200, price=PRICE)
            await alice.next_report()
            await bob.place("t-b", "AAA", "sell", 200, price=PRICE)
            await bob.next_report()

    try:
        asyncio.run(trade())
    finally:
        kill(process)
    return config


def test_a_torn_tail_is_cut_reported_and_the_sequence_continues(own_broker, tmp_path):
    config = torn_run(own_broker, tmp_path)
    journal = tmp_path / "gateway.tbj"
    whole = JournalReader(journal).records()
    size = journal.stat().st_size
    half = encode(whole[-1].seq + 1, {"op": "advance", "ns": 0})
    journal.write_bytes(journal.read_bytes() + half[: len(half) // 2])  # a crash mid-write
    assert journal_cli("verify", str(journal)).returncode == 1
    process = start_gateway(config, own_broker)

    async def order():
        async with client(own_broker, "bob") as bob:
            await bob.place("t-b2", "AAA", "sell", 200, price=PRICE + 100)
            return await bob.next_report()

    try:
        assert asyncio.run(order())["type"] == "ack"
    finally:
        kill(process)
    assert f"torn tail at byte {size}" in (tmp_path / "gateway.log").read_text()
    records = JournalReader(journal).records()
    assert records[: len(whole)] == whole
    assert (records[len(whole)].offset, records[len(whole)].seq) == (size, whole[-1].seq + 1)
    assert journal_cli("verify", str(journal)).returncode == 0


def test_a_corruption_before_the_end_stops_start_up_naming_its_offset(own_broker, tmp_path):
    config = torn_run(own_broker, tmp_path)
    journal = tmp_path / "gateway.tbj"
    damaged = JournalReader(journal).records()[2].offset
    data = bytearray(journal.read_bytes())
    data[damaged + 18] ^= 0x01
    journal.write_bytes(bytes(data))
    serve = [sys.executable, "-m", "techboard.cli", "gateway", "serve", "--config", str(config)]
    result = subprocess.run(serve, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert f"corrupt record at byte {damaged}" in result.stderr
    assert journal.read_bytes() == bytes(data)  # left for the operator to inspect
