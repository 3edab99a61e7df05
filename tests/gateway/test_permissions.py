"""The permission matrix: every topic of the tree, every kind of user, against a real Mosquitto.

The expected matrix is the Permissions table of docs/protocol.md. Each connected user (the
gateway, participants A and B) subscribes to every topic and publishes a tagged message to each
(QoS 1); what arrives where shows who may publish and who may read: a refused publish reaches
nobody, a refused read delivers nothing. An unknown user, an anonymous client and a wrong
password must be refused at connect. All probes run concurrently on one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from pathlib import Path

import aiomqtt
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from gateway import protocol
from gateway.broker import Broker, Credentials, acl_text, write_broker_files

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
A, B, SYMBOL = "alice", "bob", "AAA"
CONNECTED = ("gateway", "participant A", "participant B")
STRANGERS = ("unknown user", "anonymous", "wrong password")
NOT_AUTHORIZED = 135
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
GRACE_S = 0.3  # how long to wait for messages that must not arrive, once the expected ones did


def documented_matrix() -> dict[str, dict[str, set[str]]]:
    """Return topic template -> user kind -> {"publish", "subscribe"} (or {"refused"})."""
    text = DOC.read_text()
    block = re.search(r"<!-- permissions:.*?-->\n(.*?)<!-- end permissions -->", text, re.S)
    assert block, f"{DOC} has no permissions table between its markers"
    header, _rule, *rows = block.group(1).strip().splitlines()
    kinds = [cell.strip() for cell in header.strip("|").split("|")][1:]
    assert kinds == [*CONNECTED, *STRANGERS], kinds
    matrix = {}
    for row in rows:
        topic, *cells = (cell.strip() for cell in row.strip("|").split("|"))
        matrix[topic.strip("`")] = {
            kind: {word.strip() for word in cell.split(",")} - {"none"}
            for kind, cell in zip(kinds, cells, strict=True)
        }
    return matrix


def probe(payload: bytes) -> str:
    """Return a probe message's text (other payloads, e.g. a gateway's msgpack, read as junk)."""
    return payload.decode(errors="replace")


def concrete(template: str) -> str:
    """Return the topic the probes use for a template of the table."""
    return template.format(A=A, symbol=SYMBOL)


def client(broker: Broker, credentials: Credentials | None) -> aiomqtt.Client:
    """Return an MQTT v5 client for `credentials` (None: anonymous)."""
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=credentials and credentials.username,
        password=credentials and credentials.password,
        protocol=MQTTProtocolVersion.MQTTv5,
        socket_options=NODELAY,
        timeout=5,
    )


async def observe(broker: Broker, topics: list[str], expected: int) -> set[tuple[str, str, str]]:
    """Return (topic, publisher kind, reader kind) of every message that arrived.

    Every connected kind subscribes to every topic, then publishes its kind's name to each;
    reading stops GRACE_S after the `expected`-th message.
    """
    users = {"gateway": broker.gateway, "participant A": broker.user(A)}
    users["participant B"] = broker.user(B)
    arrived: set[tuple[str, str, str]] = set()
    enough = asyncio.Event()

    async def read(kind: str, mqtt: aiomqtt.Client, subscribed: asyncio.Event) -> None:
        for topic in topics:
            await mqtt.subscribe(topic, qos=1)
        subscribed.set()
        async for message in mqtt.messages:
            publisher = probe(message.payload)
            if publisher in CONNECTED:  # not a retained message left by an earlier test
                arrived.add((message.topic.value, publisher, kind))
            if len(arrived) >= expected:
                enough.set()

    async with (
        client(broker, users["gateway"]) as gateway,
        client(broker, users["participant A"]) as alice,
        client(broker, users["participant B"]) as bob,
    ):
        clients = dict(zip(CONNECTED, (gateway, alice, bob), strict=True))
        ready = {kind: asyncio.Event() for kind in CONNECTED}
        readers = [asyncio.create_task(read(k, c, ready[k])) for k, c in clients.items()]
        await asyncio.gather(*(event.wait() for event in ready.values()))
        await asyncio.gather(
            *(c.publish(t, k.encode(), qos=1) for k, c in clients.items() for t in topics)
        )
        # fewer arriving than the table expects ends in the timeout; the comparison shows which
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), timeout=3)
        await asyncio.sleep(GRACE_S)
        for task in readers:
            task.cancel()
    return arrived


def expected_deliveries(matrix: dict[str, dict[str, set[str]]]) -> set[tuple[str, str, str]]:
    """Return the (topic, publisher, reader) triples the table implies."""
    return {
        (concrete(template), publisher, reader)
        for template, cells in matrix.items()
        for publisher in CONNECTED
        for reader in CONNECTED
        if "publish" in cells[publisher] and "subscribe" in cells[reader]
    }


def observed_matrix(arrived: set[tuple[str, str, str]], templates) -> dict[str, dict[str, set]]:
    """Return the matrix the arrivals show: publish if it reached someone, subscribe if received."""
    matrix = {}
    for template in templates:
        topic = concrete(template)
        published = {p for t, p, _ in arrived if t == topic}
        read = {r for t, _, r in arrived if t == topic}
        matrix[template] = {
            kind: ({"publish"} if kind in published else set())
            | ({"subscribe"} if kind in read else set())
            for kind in CONNECTED
        }
    return matrix


def check(broker: Broker) -> list[str]:
    """Probe `broker` and return the differences from the documented matrix (none: [])."""
    matrix = documented_matrix()
    expected = expected_deliveries(matrix)
    arrived = asyncio.run(observe(broker, [concrete(t) for t in matrix], len(expected)))
    seen = observed_matrix(arrived, matrix)
    problems = [
        f"{template}, {kind}: the broker allows {sorted(seen[template][kind]) or 'nothing'}, "
        f"docs/protocol.md says {sorted(matrix[template][kind]) or 'nothing'}"
        for template in matrix
        for kind in CONNECTED
        if seen[template][kind] != matrix[template][kind]
    ]
    problems += [f"{t}: {p} -> {r} arrived, not expected" for t, p, r in arrived - expected]
    problems += [f"{t}: {p} -> {r} expected, did not arrive" for t, p, r in expected - arrived]
    return problems


def test_the_table_covers_every_topic_of_the_tree_and_every_kind_of_user():
    matrix = documented_matrix()
    tree = {
        protocol.ORDERS_TOPIC,
        protocol.REPORTS_TOPIC,
        protocol.BOOK_TOPIC,
        protocol.TRADES_TOPIC,
        protocol.STATUS_TOPIC,
        protocol.REFERENCE_TOPIC,
        protocol.GATEWAY_TOPIC,
    }
    assert {t.replace("{A}", "{participant}") for t in matrix} == tree
    for cells in matrix.values():
        assert all(cells[kind] == {"refused"} for kind in STRANGERS)
        assert all(cells[kind] <= {"publish", "subscribe"} for kind in CONNECTED)


def test_the_broker_enforces_the_documented_matrix(broker):
    assert check(broker) == []


def test_the_matrix_sees_a_wrong_acl(tmp_path):
    """One rule broken (every user may read every participant's reports) must show."""
    files = write_broker_files(tmp_path, [A, B])
    files.acl_file.write_text(
        acl_text().replace("participants/%u/reports", "participants/+/reports")
    )
    with Broker(files) as broken:
        problems = check(broken)
    reports = concrete("techboard/v1/participants/{A}/reports")
    assert f"{reports}: gateway -> participant B arrived, not expected" in problems
    assert any(
        p.startswith("techboard/v1/participants/{A}/reports, participant B") for p in problems
    )


async def connect_refused(broker: Broker, credentials: Credentials | None) -> int | None:
    """Return the CONNACK reason code of a refused connection, None if it was accepted."""
    try:
        async with client(broker, credentials):
            return None
    except aiomqtt.MqttCodeError as error:
        return error.rc.value if hasattr(error.rc, "value") else error.rc


def test_strangers_are_refused_at_connect(broker):
    alice = broker.user(A)
    strangers = {
        "unknown user": Credentials("mallory", "guess"),
        "anonymous": None,
        "wrong password": Credentials(A, alice.password + "x"),
    }

    async def attempts():
        return await asyncio.gather(
            *(connect_refused(broker, c) for c in (*strangers.values(), alice))
        )

    *refused, accepted = asyncio.run(attempts())
    assert dict(zip(strangers, refused, strict=True)) == dict.fromkeys(strangers, NOT_AUTHORIZED)
    assert accepted is None
    assert set(STRANGERS) == set(strangers)


@pytest.mark.parametrize(
    ("kind", "subscription", "receives"),
    [
        ("participant A", "#", {"alice-reports", "book"}),
        ("participant A", "techboard/v1/participants/+/reports", {"alice-reports"}),
        ("participant B", "techboard/v1/participants/#", {"bob-reports"}),
        ("gateway", "techboard/v1/participants/+/orders", {"alice-orders", "bob-orders"}),
        ("gateway", "#", {"alice-orders", "bob-orders", "book"}),
    ],
)
def test_wildcards_receive_only_what_the_user_may_read(broker, kind, subscription, receives):
    users = {"gateway": broker.gateway, "participant A": broker.user(A)}
    users["participant B"] = broker.user(B)
    sent = {
        "alice-orders": (A, protocol.ORDERS_TOPIC.format(participant=A)),
        "bob-orders": (B, protocol.ORDERS_TOPIC.format(participant=B)),
        "alice-reports": ("gateway", protocol.REPORTS_TOPIC.format(participant=A)),
        "bob-reports": ("gateway", protocol.REPORTS_TOPIC.format(participant=B)),
        "book": ("gateway", protocol.BOOK_TOPIC.format(symbol=SYMBOL)),
    }

    async def run() -> set[str]:
        got: set[str] = set()
        async with client(broker, users[kind]) as reader:
            await reader.subscribe(subscription, qos=1)

            async def collect():
                async for message in reader.messages:
                    if probe(message.payload) in sent:  # not an earlier test's retained message
                        got.add(probe(message.payload))

            task = asyncio.create_task(collect())
            senders = {name: broker.user(name) for name in (A, B, "gateway")}
            for tag, (sender, topic) in sent.items():
                async with client(broker, senders[sender]) as publisher:
                    await publisher.publish(topic, tag.encode(), qos=1)
            await asyncio.sleep(GRACE_S)
            task.cancel()
        return got

    assert asyncio.run(run()) == receives
