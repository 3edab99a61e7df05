"""The gateway as its own process behind a real Mosquitto: trading, refusals, duplicates,
cancel-on-disconnect, market-data gaps, the last will, JSON typed with mosquitto_pub."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from gateway_process import gateway_state, start_gateway, stop_gateway, write_config

from gateway.client import GatewayClient
from gateway.protocol import ORDERS_TOPIC, encode

PRICE = 100_000  # CNY 10.00, the previous close


@pytest.fixture(scope="module")
def gateway(broker, tmp_path_factory) -> Iterator[subprocess.Popen]:
    """Yield a gateway process serving the shared broker for this module's tests."""
    config = write_config(tmp_path_factory.mktemp("gateway"), broker, "max_message_bytes = 4096")
    process = start_gateway(config, broker)
    yield process
    stop_gateway(process)


def client(broker, name: str) -> GatewayClient:
    user = broker.user(name)
    return GatewayClient(broker.host, broker.port, user.username, user.password)


async def until(c: GatewayClient, want, timeout: float = 5.0) -> list[dict]:
    """Collect reports until one satisfies want; return them all. Tests look for their own
    reports this way: a report of an earlier test's session (alice's orders cancelled when it
    disconnected) may still arrive first."""
    got = []
    while True:
        got.append(await c.next_report(timeout))
        if want(got[-1]):
            return got


async def within(c: GatewayClient, seconds: float) -> list[dict]:
    """Return every report that arrives in the next `seconds`."""
    loop = asyncio.get_running_loop()
    end, got = loop.time() + seconds, []
    while (left := end - loop.time()) > 0:
        try:
            got.append(await c.next_report(left))
        except TimeoutError:
            break
    return got


def test_an_order_fills_between_two_participants(broker, gateway):
    async def scenario():
        async with client(broker, "alice") as alice, client(broker, "bob") as bob:
            await alice.place("fill-a1", "AAA", "buy", 300, price=PRICE)
            ack = await until(alice, lambda r: r["type"] == "ack")
            assert ack[-1]["id"] == "fill-a1" and ack[-1]["state"] == "accepted"
            await bob.place("fill-b1", "AAA", "sell", 300, price=PRICE)
            fills = await until(bob, lambda r: r["type"] == "fill")
            assert (fills[-1]["qty"], fills[-1]["price"], fills[-1]["leaves"]) == (300, PRICE, 0)
            mine = await until(alice, lambda r: r["type"] == "fill")
            assert mine[-1]["id"] == "fill-a1" and mine[-1]["trade"] == fills[-1]["trade"]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xc1\xff not msgpack", "MALFORMED"),
        (encode({"type": "teleport"}), "UNKNOWN_TYPE"),
        (encode({"type": "new", "id": "x", "symbol": "AAA", "side": "buy", "qty": "1"}),
         "WRONG_FIELD_TYPE"),
        (encode({"type": "cancel", "id": "x" * 5000}), "OVERSIZED"),
    ],
)  # fmt: skip
def test_bad_payloads_get_a_reason_code_and_the_gateway_keeps_serving(
    broker, gateway, payload, reason
):
    async def scenario():
        async with client(broker, "alice") as alice:
            await alice.mqtt.publish(alice.orders_topic, payload, qos=1)
            reject = (await until(alice, lambda r: r["type"] == "reject"))[-1]
            assert reject["type"] == "reject" and reject["reason"] == reason and reject["code"]
            await alice.place(f"after-{reason}", "AAA", "buy", 200, price=PRICE - 1000)
            answer = await until(alice, lambda r: r.get("id") == f"after-{reason}")
            assert answer[-1]["type"] == "ack"

    asyncio.run(scenario())
    assert gateway.poll() is None


def test_a_duplicate_client_order_id_gets_the_original_answer_and_runs_once(broker, gateway):
    async def scenario():
        async with client(broker, "alice") as alice:
            await alice.place("dup-1", "AAA", "buy", 200, price=PRICE - 2000)
            first = (await until(alice, lambda r: r.get("id") == "dup-1"))[-1]
            await alice.place("dup-1", "AAA", "buy", 900, price=PRICE - 3000)
            again = (await until(alice, lambda r: r.get("id") == "dup-1"))[-1]
            assert first["type"] == again["type"] == "ack" and again["duplicate"]
            assert again["order_id"] == first["order_id"] and again["qty"] == 200
            await alice.watch("AAA")
            snapshot = await until(alice, lambda r: r["type"] == "snapshot")
            assert [PRICE - 3000, 900, 1] not in snapshot[-1]["bids"]

    asyncio.run(scenario())


LEAVER = """
import asyncio, os, sys
from gateway.client import GatewayClient
async def main():
    client = GatewayClient(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
    await client.__aenter__()
    await client.place("cod-1", "AAA", "buy", 200, price=int(sys.argv[5]))
    print((await client.next_report())["type"], flush=True)
    os._exit(0)  # the line drops without a DISCONNECT: the broker sends the last will
asyncio.run(main())
"""


def test_cancel_on_disconnect_when_the_connection_drops(broker, gateway):
    user = broker.user("alice")
    args = [broker.host, str(broker.port), user.username, user.password, str(PRICE - 4000)]
    leaver = subprocess.run(
        [sys.executable, "-c", LEAVER, *args], capture_output=True, text=True, timeout=30
    )
    assert leaver.stdout.strip() == "ack", leaver.stderr

    async def scenario():
        async with client(broker, "alice") as alice:
            await alice.watch("AAA")
            snapshot = await until(alice, lambda r: r["type"] == "snapshot")
            assert [PRICE - 4000, 200, 1] not in snapshot[-1]["bids"]

    asyncio.run(scenario())


def test_a_market_data_gap_is_recovered_through_a_snapshot(broker, gateway):
    async def scenario():
        async with client(broker, "bob") as bob:
            book = await bob.watch("AAA")
            await until(bob, lambda r: r["type"] == "snapshot")
            book.seq -= 1  # as if a delta had been lost
            await bob.place("gap-1", "AAA", "sell", 200, price=PRICE + 7000)
            await until(bob, lambda r: r["type"] == "snapshot")
            assert book.gaps == 1 and book.synced
            assert book.asks[PRICE + 7000] == (200, 1)

    asyncio.run(scenario())


def test_json_typed_with_mosquitto_pub_places_an_order(broker, gateway):
    user = broker.user("alice")
    topic = ORDERS_TOPIC.format(participant="alice")
    order = {"v": 1, "type": "new", "id": "json-1", "symbol": "AAA", "side": "buy",
             "price": PRICE - 6000, "qty": 200}  # fmt: skip
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-u", user.username,
         "-P", user.password, "-V", "mqttv5", "-C", "1", "-W", "10",
         "-t", "techboard/v1/participants/alice/reports"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    subprocess.run(
        ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-u", user.username,
         "-P", user.password, "-V", "mqttv5", "-q", "1", "-t", topic,
         "-D", "publish", "content-type", "application/json", "-m", json.dumps(order)],
        check=True, timeout=10,
    )  # fmt: skip
    out, _ = sub.communicate(timeout=15)
    report = json.loads(out)["items"][0]
    assert (report["type"], report["id"], report["state"]) == ("ack", "json-1", "accepted")


def test_the_last_will_shows_offline_when_the_gateway_is_killed(own_broker, tmp_path):
    process = start_gateway(write_config(tmp_path, own_broker), own_broker)
    assert gateway_state(own_broker) == "online"
    process.send_signal(signal.SIGKILL)
    process.wait()
    state = None
    for _ in range(40):  # the broker notices the dead socket at once on loopback
        state = gateway_state(own_broker, 0.5)
        if state == "offline":
            break
    assert state == "offline"


def test_orders_on_another_participants_topic_are_refused_and_nothing_trades(broker, gateway):
    async def scenario():
        async with client(broker, "alice") as alice, client(broker, "bob") as bob:
            await bob.place("acl-b1", "AAA", "sell", 200, price=PRICE + 9000)
            assert (await until(bob, lambda r: r.get("id") == "acl-b1"))[-1]["type"] == "ack"
            forged = encode({"type": "new", "id": "acl-a1", "symbol": "AAA", "side": "buy",
                             "qty": 200, "price": PRICE + 9000})  # fmt: skip
            await alice.mqtt.publish(ORDERS_TOPIC.format(participant="bob"), forged, qos=1)
            await alice.mqtt.publish(ORDERS_TOPIC.format(participant="mm2"), forged, qos=1)
            arrived = await within(bob, 1.0)  # no fill, no self-trade refusal
            assert not [r for r in arrived if r["type"] == "fill" or r.get("id") == "acl-a1"]
            await alice.watch("AAA")
            snapshot = await until(alice, lambda r: r["type"] == "snapshot")
            assert [PRICE + 9000, 200, 1] in snapshot[-1]["asks"]

    asyncio.run(scenario())


def test_a_participant_cannot_read_another_participants_reports(broker, gateway):
    async def scenario():
        async with client(broker, "alice") as alice, client(broker, "bob") as bob:
            await alice.mqtt.subscribe("techboard/v1/participants/bob/reports", qos=1)
            await alice.mqtt.subscribe("techboard/v1/participants/+/reports", qos=1)
            await bob.place("spy-b1", "AAA", "buy", 200, price=PRICE - 8000)
            assert (await until(bob, lambda r: r.get("id") == "spy-b1"))[-1]["type"] == "ack"
            assert not [r for r in await within(alice, 1.0) if r.get("id") == "spy-b1"]

    asyncio.run(scenario())
