"""Crash soak (marker `soak`): bots trade through a real Mosquitto while the gateway process is
killed with SIGKILL at random moments and restarted, and the broker itself is restarted once.

At the end every answer a bot had (ack or reject) is the recovered gateway's first answer to
that order, each order ran once, every fill reached its bot (after removing repeats by trade
number), each trade number belongs to exactly one trade, and cash plus fees and shares are
conserved over all accounts, which match the fills the bots saw. TECHBOARD_SOAK_KILLS sets the
number of kills (default 20); TECHBOARD_SOAK_SEED the random seed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiomqtt
import numpy as np
import pytest
from gateway_process import gateway_state, start_gateway, stop_gateway, write_config
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from exchange.dtypes import ORDER_DTYPE, OrderCommand
from exchange.venue.journal import JournalReader, Record
from gateway.config import load_config
from gateway.protocol import ORDERS_TOPIC, REPORTS_TOPIC, encode, new_order, read
from gateway.server import Gateway

KILLS = int(os.environ.get("TECHBOARD_SOAK_KILLS", "20"))
SEED = int(os.environ.get("TECHBOARD_SOAK_SEED", "14"))
PRICE = 100_000
RESEND_S = 2.0  # a bot resends an order unanswered this long (same client order id)
IN_FLIGHT = 20  # a bot with this many orders unanswered sends no new ones

pytestmark = pytest.mark.soak


@dataclasses.dataclass
class Bot:
    """A participant sending random limit orders with persistent MQTT sessions and resends."""

    name: str
    password: str
    rng: random.Random
    sent: dict[str, tuple[float, dict]] = dataclasses.field(default_factory=dict)
    answers: dict[str, dict] = dataclasses.field(default_factory=dict)  # first ack or reject
    fills: dict[tuple[int, str], dict] = dataclasses.field(default_factory=dict)
    repeats: int = 0  # reports delivered again (after a crash or a resend)
    resends: int = 0
    connections: int = 0
    last_report: float = 0.0

    def unanswered(self) -> list[str]:
        return [id for id in self.sent if id not in self.answers]

    def take(self, item: dict) -> None:
        """Record a report item; a fill's (trade, id) must always describe the same fill."""
        self.last_report = time.monotonic()
        if item["type"] == "fill":
            key = (item["trade"], item["id"])
            if key in self.fills:
                assert self.fills[key] == item, f"trade number {key} reused for another fill"
                self.repeats += 1
            self.fills[key] = item
        elif item["type"] in ("ack", "reject") and item.get("id") in self.sent:
            first = {k: v for k, v in item.items() if k != "duplicate"}
            if item["id"] in self.answers:
                self.repeats += 1
                if item["type"] == "ack" and item.get("state") != "replaced":
                    assert self.answers[item["id"]] == first, "a resend changed the answer"
            self.answers.setdefault(item["id"], first)

    async def run(self, host: str, port: int, sending: asyncio.Event, stop: asyncio.Event) -> None:
        """Trade until stop, reconnecting (same session) whenever the broker goes away."""
        connect = Properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = 3600
        while not stop.is_set():
            mqtt = aiomqtt.Client(host, port, username=self.name, password=self.password,
                                  identifier=f"soak-{self.name}", clean_start=False,
                                  protocol=aiomqtt.ProtocolVersion.V5, properties=connect,
                                  max_queued_incoming_messages=100_000)  # fmt: skip
            try:
                async with mqtt:
                    self.connections += 1
                    await mqtt.subscribe(REPORTS_TOPIC.format(participant=self.name), qos=1)
                    jobs = [asyncio.ensure_future(self._read(mqtt)),
                            asyncio.ensure_future(self._send(mqtt, sending, stop))]  # fmt: skip
                    done, _ = await asyncio.wait(jobs, return_when=asyncio.FIRST_COMPLETED)
                    for job in jobs:
                        job.cancel()
                    await asyncio.gather(*jobs, return_exceptions=True)
                    for job in done:
                        job.result()
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    async def _read(self, mqtt: aiomqtt.Client) -> None:
        async for message in mqtt.messages:
            for item in read(bytes(message.payload))["items"]:
                self.take(item)

    async def _send(self, mqtt: aiomqtt.Client, sending: asyncio.Event, stop: asyncio.Event):
        topic = ORDERS_TOPIC.format(participant=self.name)
        while not stop.is_set():
            now = time.monotonic()
            if sending.is_set() and len(self.unanswered()) < IN_FLIGHT:
                id = f"{self.name}-{len(self.sent)}"
                side = self.rng.choice(("buy", "sell"))
                price = PRICE + 100 * self.rng.randint(-3, 3)
                order = new_order(id, "AAA", side, 200 * self.rng.randint(1, 3), price)
                self.sent[id] = (now, order)
                await mqtt.publish(topic, encode(order), qos=1)
            for id in self.unanswered():
                at, order = self.sent[id]
                if now - at > RESEND_S:
                    self.sent[id] = (now, order)
                    self.resends += 1
                    await mqtt.publish(topic, encode(order), qos=1)
            await asyncio.sleep(self.rng.uniform(0.02, 0.06))


def new_orders(records: list[Record]) -> Counter[tuple[int, str]]:
    """Count the new orders the journal sent to the venue by (participant, client order id)."""
    counted: Counter[tuple[int, str]] = Counter()
    for record in records:
        if record.payload["op"] == "submit":
            rows = np.frombuffer(record.payload["rows"], ORDER_DTYPE)
            ids = record.payload["note"]["ids"]
            columns = rows["kind"].tolist(), rows["participant"].tolist(), ids
            counted.update(
                (p, id) for kind, p, id in zip(*columns, strict=True) if kind == OrderCommand.NEW
            )
    return counted


def spawn(config: Path) -> subprocess.Popen:
    """Start `techboard gateway serve` without waiting; its log gathers every start."""
    with (config.parent / "gateway.log").open("a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "techboard.cli", "gateway", "serve", "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, cwd=config.parent,
        )  # fmt: skip


def online(broker, timeout: float = 60.0) -> None:
    """Return once the gateway's retained status says online."""
    deadline = time.monotonic() + timeout
    while gateway_state(broker, 0.3) != "online":
        assert time.monotonic() < deadline, "the gateway did not come online"


def recovered(config_path, tmp_path) -> Gateway:
    """Return a gateway recovered from a copy of the journal (the original is not touched)."""
    config = load_config(config_path)
    copy = tmp_path / "recovered.tbj"
    shutil.copy(config.journal, copy)
    return Gateway(dataclasses.replace(config, journal=str(copy)))


def test_the_gateway_survives_sigkill_and_a_broker_restart_losing_nothing(own_broker, tmp_path):
    rng = random.Random(SEED)
    config = write_config(tmp_path, own_broker)
    settings = load_config(config)
    bots = [Bot(p.name, own_broker.user(p.name).password, random.Random(rng.random()))
            for p in settings.participants]  # fmt: skip
    kills = broker_restarts = 0

    async def soak() -> None:
        nonlocal kills, broker_restarts
        sending, stop = asyncio.Event(), asyncio.Event()
        process = await asyncio.to_thread(start_gateway, config, own_broker)
        tasks = [asyncio.ensure_future(b.run(own_broker.host, own_broker.port, sending, stop))
                 for b in bots]  # fmt: skip
        sending.set()
        try:
            while kills < KILLS:
                if kills % 2:  # at any moment of start-up: reading, replaying, connecting
                    await asyncio.sleep(rng.uniform(0.2, 4.0))
                else:  # while serving
                    await asyncio.to_thread(online, own_broker)
                    if kills == KILLS // 2:
                        await asyncio.to_thread(own_broker.restart)  # the gateway stays up
                        broker_restarts += 1
                        await asyncio.to_thread(online, own_broker)
                    await asyncio.sleep(rng.uniform(0.2, 1.0))
                process.send_signal(signal.SIGKILL)
                await asyncio.to_thread(process.wait)
                kills += 1
                process = spawn(config)
            await asyncio.to_thread(online, own_broker)
            await asyncio.sleep(1.0)
            sending.clear()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (
                any(b.unanswered() for b in bots)
                or time.monotonic() - max(b.last_report for b in bots) < 2.0
            ):
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await asyncio.to_thread(stop_gateway, process)
            for result in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(result, BaseException):
                    raise result

    asyncio.run(soak())
    assert kills == KILLS and broker_restarts == 1
    assert all(b.connections >= 2 for b in bots)  # every bot reconnected after the broker
    assert not [id for b in bots for id in b.unanswered()]

    gateway = recovered(config, tmp_path)
    records = JournalReader(gateway.config.journal).records()
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    ran = new_orders(records)
    assert max(ran.values()) == 1  # no client order id reached the venue twice
    checked = 0
    for p, bot in enumerate(bots):
        for id, answer in bot.answers.items():
            assert gateway.first_answer(p, id) == answer, (bot.name, id)
            checked += 1
    trades: Counter[int] = Counter(trade for b in bots for trade, _ in b.fills)
    assert set(trades) == set(range(1, gateway.trades + 1))
    assert set(trades.values()) == {2}  # a buyer's and a seller's fill per trade number
    exchange = gateway.exchange
    for p, (bot, start) in enumerate(zip(bots, settings.participants, strict=True)):
        account, signs = exchange.account(p), {"buy": 1, "sell": -1}
        bought = sum(signs[f["side"]] * f["qty"] for f in bot.fills.values())
        paid = sum(signs[f["side"]] * f["qty"] * f["price"] + f["fee"] for f in bot.fills.values())
        assert account["positions"].get("AAA", 0) == start.shares.get("AAA", 0) + bought
        assert account["cash"] == start.cash - paid
    fees = sum(exchange.fees_collected().values())
    cash = sum(exchange.account(p)["cash"] for p in range(len(bots)))
    assert cash + fees == sum(p.cash for p in settings.participants)
    shares = sum(exchange.account(p)["positions"].get("AAA", 0) for p in range(len(bots)))
    assert shares == sum(p.shares.get("AAA", 0) for p in settings.participants)
    log = (tmp_path / "gateway.log").read_text()
    print(
        f"\nsoak: {kills} SIGKILLs ({log.count('journal recovery:')} recoveries, "
        f"{log.count('torn tail at byte')} torn tails cut) and {broker_restarts} broker restart; "
        f"{sum(len(b.sent) for b in bots)} orders sent, {checked} answers checked against the "
        f"recovered state, {len(trades)} trades ({2 * len(trades)} fills) each reported once, "
        f"{sum(b.repeats for b in bots)} reports delivered again, "
        f"{sum(b.resends for b in bots)} resends, {len(records)} journal records"
    )
