"""`techboard bench gateway`: orders/s and acknowledgement latency through Mosquitto on loopback.

The command starts everything itself in a temporary folder: a broker (gateway.broker), for each
mode a fresh gateway process (`techboard gateway serve`, journal on) and N load bots, each its own
process (paho driven by the bot's one thread, QoS 1, TCP_NODELAY), in pairs of a buyer and a
seller whose prices cross, so about half of the orders trade. Bot b's k-th order has the client
order id "k", the side of its pair role, the price `PRICE + (k % 5) ticks` up for a buyer and
down for a seller and the quantity `200 + 100 (k % 7)` shares: the gateway numbers each
participant's client order ids 1, 2, ... in arrival order, so order k is the journal's NEW row
with number k, and it can be checked there.

Modes (`mode` in the JSON):
- batched: every bot sends `batch` messages of BATCH orders, at most WINDOW orders unanswered;
- single: one order a message, at most WINDOW_SINGLE unanswered;
- latency: one order a message at a fixed offered rate (all bots together), open loop: latency
  runs from the order's scheduled send time to its ack's arrival (no coordinated omission).

After a mode the gateway stops and its journal is read (exchange.venue.journal.JournalReader):
`lost` counts orders sent and never answered plus acknowledged orders that are not the journal's
NEW row of their participant and number with the side, price and quantity sent; each trade number
must reach its taker and its maker exactly once (`duplicate_fills` counts the extra reports,
`missing_fills` the absent ones). Exit status 1 when anything is lost or duplicated. Each result
also gives the CPU time per answered order of the gateway, the bots together and the broker (on
a 2-core machine the bots and the broker compete with the gateway).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

import msgpack
import numpy as np
import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from exchange.dtypes import ORDER_DTYPE, OrderCommand
from exchange.venue.journal import DURABILITY, JournalReader
from gateway.broker import Broker, write_broker_files
from gateway.mqtt import NODELAY, share_property_tables
from gateway.protocol import GATEWAY_TOPIC, ORDERS_TOPIC, REPORTS_TOPIC, VERSION
from matching_engine.dtypes import Side
from techboard.commands import bench_table
from techboard.commands.bench_table import aligned

SYMBOL = "AAA"
PRICE = 100_000  # CNY 10.00, the previous close (price units)
TICK = 100  # the STAR board's equity tick
BATCH = 500  # orders in one `batch` message
WINDOW = 4_000  # orders a bot may have unanswered (batched)
WINDOW_SINGLE = 200  # orders a bot may have unanswered (single)
LATENCY_RATE = 2_000  # orders/s offered in the latency mode, all bots together
DRAIN_S = 20.0  # how long a bot waits for the answers to its last orders
FINISH_S = 0.5  # how long bots stay connected once all are done, for the last fills


MODES = ("batched", "single", "latency")


@dataclass(frozen=True)
class Sizes:
    """Seconds of each mode and the number of bot processes."""

    batched_s: float
    single_s: float
    latency_s: float


FULL = Sizes(batched_s=10.0, single_s=10.0, latency_s=10.0)
QUICK = Sizes(batched_s=1.5, single_s=1.5, latency_s=1.5)


@dataclass(frozen=True)
class BotSpec:
    """What one load bot does: where, who, which mode, how long, how fast."""

    host: str
    port: int
    username: str
    password: str
    buyer: bool
    mode: str  # batched, single, latency
    seconds: float
    rate: float  # orders/s of this bot in the latency mode


def order(k: int, buyer: bool) -> dict[str, Any]:
    """Return a bot's k-th order (k >= 1), its fields a function of k (see the module doc)."""
    offset = (k % 5) * TICK
    return {
        "type": "new", "id": str(k), "symbol": SYMBOL, "side": "buy" if buyer else "sell",
        "price": PRICE + offset if buyer else PRICE - offset, "qty": 200 + 100 * (k % 7),
    }  # fmt: skip


class LoadBot:
    """One bot process's paho client, driven by the bot's own single thread (no network thread:
    a publish is one send system call, not a wake-up of another thread): sends its orders,
    records the answers and fills."""

    def __init__(self, spec: BotSpec) -> None:
        """Connect and subscribe to the reports."""
        share_property_tables()
        self.spec = spec
        self.topic = ORDERS_TOPIC.format(participant=spec.username)
        self.answered = self.rejected = 0
        self.acked: list[int] = []
        self.ack_times: list[float] = []
        self.fills: list[int] = []  # the trade numbers of its fill reports (ints: no tuple a
        # fill for the garbage collector to walk)
        self.last_answer = self.start = 0.0
        self.sent = 0
        self.scheduled: list[float] = []  # the latency mode's send times, by order number - 1
        self.subscribed = False
        self.misc = 0.0  # when paho's keepalive check last ran
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"load-{spec.username}", protocol=mqtt.MQTTv5
        )
        client.username_pw_set(spec.username, spec.password)
        client.on_message = self._on_message
        client.on_subscribe = lambda *_: setattr(self, "subscribed", True)
        client.max_inflight_messages_set(1_000)
        client.max_queued_messages_set(0)
        client.connect(spec.host, spec.port)
        client.socket().setsockopt(*NODELAY)
        client.subscribe(REPORTS_TOPIC.format(participant=spec.username), qos=1)
        self.client = client
        deadline = time.monotonic() + 10
        while not self.subscribed and time.monotonic() < deadline:
            self.pump(0.01)

    def pump(self, timeout: float) -> None:
        """Wait up to timeout seconds for the broker, then read what arrived and write what
        paho could not send at once."""
        client = self.client
        sock = client.socket()
        if sock is None:
            raise ConnectionError(f"{self.spec.username}: the broker dropped the connection")
        writing = [sock] if client.want_write() else []
        readable, writable, _ = select.select([sock], writing, [], max(timeout, 0.0))
        if readable:  # paho reads as many packets as messages are in flight, at least 1
            while not client.loop_read() and select.select([sock], [], [], 0)[0]:
                pass
        if writable:
            client.loop_write()
        now = time.monotonic()
        if now - self.misc > 1.0:
            self.misc = now
            client.loop_misc()

    def wait(self, queue: Any) -> Any:
        """Return the next item of a multiprocessing queue, reading the broker meanwhile."""
        while True:
            try:
                return queue.get(timeout=0.005)
            except Empty:
                self.pump(0.0)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: Any) -> None:
        now = time.monotonic()
        for item in msgpack.unpackb(message.payload)["items"]:
            kind = item["type"]
            if kind == "ack":
                self.acked.append(int(item["id"]))
                self.ack_times.append(now)
            elif kind == "reject":
                self.rejected += 1
            elif kind == "fill":
                self.fills.append(item["trade"])
                continue
            else:
                continue
            self.answered += 1
            self.last_answer = now

    def send(self, orders: list[dict[str, Any]]) -> None:
        """Publish orders: one as itself, several as one `batch` message."""
        body = (
            {"v": VERSION, **orders[0]}
            if len(orders) == 1
            else {"v": VERSION, "type": "batch", "orders": orders}
        )
        self.client.publish(self.topic, msgpack.packb(body), qos=1)

    def run(self, start: float) -> None:
        """Send from the monotonic time `start` for the spec's seconds, then wait (DRAIN_S at
        most) for the answers."""
        spec = self.spec
        while (now := time.monotonic()) < start:
            self.pump(start - now)
        scheduled = self.scheduled
        k = 0
        stop = start + spec.seconds
        if spec.mode == "latency":
            while (at := start + k / spec.rate) < stop:
                if (pause := at - time.monotonic()) > 0:
                    self.pump(pause)
                    continue
                k += 1
                scheduled.append(at)
                self.send([order(k, spec.buyer)])
        else:
            chunk, window = (BATCH, WINDOW) if spec.mode == "batched" else (1, WINDOW_SINGLE)
            while time.monotonic() < stop:
                if k - self.answered > window - chunk:
                    self.pump(0.001)
                    continue
                self.send([order(k + 1 + i, spec.buyer) for i in range(chunk)])
                k += chunk
                self.pump(0.0)
        self.sent, self.start = k, start
        deadline = time.monotonic() + DRAIN_S
        while self.answered < k and time.monotonic() < deadline:
            self.pump(0.005)

    def finish(self) -> dict[str, Any]:
        """Read FINISH_S longer (the fills of the last trades), disconnect; return the figures."""
        deadline = time.monotonic() + FINISH_S
        while (now := time.monotonic()) < deadline:
            self.pump(deadline - now)
        self.client.disconnect()
        latencies = []
        if self.scheduled:
            sent_at = np.array(self.scheduled)
            latencies = (np.array(self.ack_times) - sent_at[np.array(self.acked, int) - 1]) * 1e3
        return {
            "sent": self.sent, "answered": self.answered, "rejected": self.rejected,
            "acked": np.array(self.acked, np.int64), "fills": np.array(self.fills, np.int64),
            "latencies_ms": np.asarray(latencies, float), "start": self.start,
            "last_answer": self.last_answer,
        }  # fmt: skip


def bot_process(spec: BotSpec, ready: Any, go: Any, results: Any) -> None:
    """Run one load bot in its own process: connect, say ready, wait for the start, send, say
    done, and stay connected until every bot is done (its resting orders may still trade)."""
    bot = LoadBot(spec)
    gc.freeze()  # what start-up made is never garbage: collections walk only what runs makes
    ready.put(spec.username)
    bot.run(bot.wait(go))
    ready.put(spec.username)
    bot.wait(go)
    results.put((spec.username, bot.finish()))


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def participants_toml(names: list[str]) -> str:
    """Return the gateway's [[participant]] tables: cash and shares for the whole bench."""
    return "".join(
        f'\n[[participant]]\nname = "{name}"\ncash = 1_000_000_000_000_000\n'
        f"shares = {{ {SYMBOL} = 1_000_000_000 }}\n"
        for name in names
    )


class Bench:
    """The broker, the gateway process of the current mode and the bots' names."""

    def __init__(self, directory: Path, bots: int, durability: str) -> None:
        """Write the broker's files for `bots` participants and start mosquitto."""
        self.directory = directory
        self.names = [f"bot{i + 1}" for i in range(bots)]
        self.durability = durability
        self.broker = Broker(write_broker_files(directory / "broker", self.names))
        self.broker.start()
        self.state = ""
        self.watcher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        user = self.broker.user(self.names[0])
        self.watcher.username_pw_set(user.username, user.password)
        self.watcher.on_message = lambda _c, _u, m: setattr(
            self, "state", msgpack.unpackb(m.payload)["state"]
        )
        self.watcher.connect(self.broker.host, self.broker.port)
        self.watcher.subscribe(GATEWAY_TOPIC, qos=1)
        self.watcher.loop_start()

    def close(self) -> None:
        """Stop the status watcher and the broker."""
        self.watcher.loop_stop()
        self.watcher.disconnect()
        self.broker.stop()

    def start_gateway(self, mode: str) -> subprocess.Popen:
        """Write the mode's gateway.toml, start the gateway and wait until it is online."""
        folder = self.directory / mode
        folder.mkdir()
        gateway = self.broker.gateway
        config = folder / "gateway.toml"
        config.write_text(
            f'board = "star"\njournal = "gateway.tbj"\ndurability = "{self.durability}"\n'
            f'[broker]\nhost = "{self.broker.host}"\nport = {self.broker.port}\n'
            f'username = "{gateway.username}"\npassword = "{gateway.password}"\n'
            'client_id = "bench-gateway"\n'
            '[session]\ndate = "2025-03-03"\nstart = "10:00"\nspeed = 1.0\n'
            "[limits]\norders_per_second = 10_000_000\nqueue = 100_000\n"
            f'[[instrument]]\nsymbol = "{SYMBOL}"\nclass = "equity"\nprevious_close = {PRICE}\n'
            + participants_toml(self.names)
        )
        self.state = ""
        log = (folder / "gateway.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "techboard.cli", "gateway", "serve", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
        deadline = time.monotonic() + 120
        while self.state != "online":
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the gateway did not come online: {folder / 'gateway.log'}")
            time.sleep(0.05)
        return process

    def run_mode(self, mode: str, seconds: float) -> dict[str, Any]:
        """Run one mode: gateway, bots, then the journal check; return its result."""
        gateway = self.start_gateway(mode)
        context = multiprocessing.get_context("spawn")
        ready, go, results = context.Queue(), context.Queue(), context.Queue()
        rate = LATENCY_RATE / len(self.names)
        processes = []
        for i, name in enumerate(self.names):
            user = self.broker.user(name)
            spec = BotSpec(self.broker.host, self.broker.port, name, user.password,
                           i % 2 == 0, mode, seconds, rate)  # fmt: skip
            processes.append(context.Process(target=bot_process, args=(spec, ready, go, results)))
        for process in processes:
            process.start()
        for _ in processes:
            ready.get(timeout=60)
        start = time.monotonic() + 0.2
        pids = {"gateway": [gateway.pid], "broker": [self.broker.process.pid],
                "bots": [p.pid for p in processes]}  # fmt: skip
        cpu = {name: sum(map(cpu_seconds, ids)) for name, ids in pids.items()}
        for _ in processes:
            go.put(start)
        for _ in processes:
            ready.get(timeout=seconds + DRAIN_S + 60)
        cpu = {name: sum(map(cpu_seconds, ids)) - cpu[name] for name, ids in pids.items()}
        for _ in processes:
            go.put(0.0)
        outcome = dict(results.get(timeout=60) for _ in processes)
        for process in processes:
            process.join()
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(30)
        except subprocess.TimeoutExpired:  # the journal is written before every ack anyway
            gateway.kill()
            gateway.wait()
        result = self.check(mode, outcome)
        result["offered_per_s"] = LATENCY_RATE if mode == "latency" else None
        answered = sum(seen["answered"] for seen in outcome.values())
        for name, seconds_used in cpu.items():
            result[f"{name}_cpu_us_per_order"] = round(seconds_used / max(answered, 1) * 1e6, 1)
        return result

    def check(self, mode: str, outcome: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Compare what the bots saw with the mode's journal; return the mode's figures."""
        rows = [
            np.frombuffer(record.payload["rows"], ORDER_DTYPE)
            for record in JournalReader(self.directory / mode / "gateway.tbj")
            if isinstance(record.payload, dict) and record.payload.get("op") == "submit"
        ]
        journal = np.concatenate(rows) if rows else np.zeros(0, ORDER_DTYPE)
        journal = journal[journal["kind"] == OrderCommand.NEW]
        lost = acknowledged = 0
        sides: Counter[tuple[int, int]] = Counter()
        for p, name in enumerate(self.names):
            seen = outcome[name]
            buyer = p % 2 == 0
            mine = journal[journal["participant"] == p]
            by_number = dict(zip(mine["client_order_id"].tolist(), mine.tolist(), strict=True))
            acked = seen["acked"].tolist()
            acknowledged += len(acked)
            lost += seen["sent"] - seen["answered"]
            for k in acked:
                want = order(k, buyer)
                row = by_number.get(k)
                side = Side.BUY if buyer else Side.SELL
                if row is None or (row[1], row[7], row[8]) != (side, want["price"], want["qty"]):
                    lost += 1
            sides.update((trade, p) for trade in seen["fills"].tolist())
        trades = {trade for trade, _ in sides}
        reports = Counter(trade for trade, _ in sides.elements())
        answered = sum(seen["answered"] for seen in outcome.values())
        elapsed = max(s["last_answer"] for s in outcome.values()) - min(
            s["start"] for s in outcome.values()
        )
        latencies = np.concatenate([s["latencies_ms"] for s in outcome.values()])
        p50, p99, p999 = (
            np.percentile(latencies, [50, 99, 99.9]).tolist() if len(latencies) else [None] * 3
        )
        return {
            "mode": mode,
            "orders_per_s": round(answered / elapsed) if elapsed > 0 else 0,
            "p50_ms": p50, "p99_ms": p99, "p999_ms": p999,
            "acknowledged": acknowledged,
            "rejected": sum(s["rejected"] for s in outcome.values()),
            "lost": lost,
            "duplicate_fills": sum(n - 1 for n in sides.values()),
            "missing_fills": sum(2 - n for n in reports.values() if n < 2),
            "trades": len(trades),
            "orders_per_batch": round(len(journal) / max(len(rows), 1), 1),
            "bots": len(self.names),
        }  # fmt: skip


def machine() -> str:
    """Return the CPU model, the CPUs this process may use and the versions that matter here."""
    mosquitto = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout
    version = mosquitto.splitlines()[0].split()[-1] if mosquitto else "?"
    return bench_table.machine(f"Mosquitto {version}, paho-mqtt {paho.mqtt.__version__}")


def table(results: list[dict[str, Any]]) -> str:
    """Return the results as a terminal table with how they were made."""
    head = ("mode", "orders/s", "offered/s", "p50 ms", "p99 ms", "p99.9 ms", "acked", "lost",
            "dup fills", "CPU us/order: gw bots broker")  # fmt: skip
    body = []
    for r in results:
        ms = [f"{r[k]:.2f}" if r[k] is not None else "-" for k in ("p50_ms", "p99_ms", "p999_ms")]
        offered = f"{r['offered_per_s']:,}" if r["offered_per_s"] else "-"
        body.append((r["mode"], f"{r['orders_per_s']:,}", offered, *ms, f"{r['acknowledged']:,}",
                     str(r["lost"]), str(r["duplicate_fills"]),
                     " / ".join(str(r[f"{x}_cpu_us_per_order"])
                                for x in ("gateway", "bots", "broker"))))  # fmt: skip
    lines = aligned(head, body)
    first = results[0]
    lines += [
        "",
        f"{first['bots']} bot processes (paho, one thread, QoS 1), one gateway process, "
        f"Mosquitto on loopback; batched: {BATCH} orders a message; "
        f"journal durability: {first['durability']}",
        f"load average before: {first['load_average']}; machine: {first['machine']}",
    ]
    return "\n".join(lines)


def bench_gateway(args: argparse.Namespace) -> int:
    """Run the three modes and print the table (or JSON); exit 1 on anything lost."""
    sizes = QUICK if args.quick else FULL
    host = machine()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results = []
    with tempfile.TemporaryDirectory(prefix="techboard-bench-gateway-") as folder:
        bench = Bench(Path(folder), args.bots, args.durability)
        try:
            for mode, seconds in (
                (mode, getattr(sizes, f"{mode}_s")) for mode in MODES if mode in args.modes
            ):
                print(
                    f"{mode}: {args.bots} bots for {seconds:g} s ...", file=sys.stderr, flush=True
                )
                result = bench.run_mode(mode, seconds)
                result.update(machine=host, load_average=load, durability=args.durability)
                results.append(result)
                print(f"{mode}: {result['orders_per_s']:,} orders/s", file=sys.stderr, flush=True)
        finally:
            bench.close()
    print(json.dumps(results, indent=2) if args.json else table(results))
    bad = any(r["lost"] or r["duplicate_fills"] or r["missing_fills"] for r in results)
    return 1 if bad else 0


def add_target(targets: argparse._SubParsersAction) -> None:
    """Add `gateway` to the `techboard bench` targets."""
    parser = targets.add_parser(
        "gateway", help="orders/s and ack latency through Mosquitto and the gateway process"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of results")
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument(
        "--modes",
        type=lambda text: text.split(","),
        default=list(MODES),
        help="the modes to run, comma-separated (default: batched,single,latency)",
    )
    parser.add_argument("--bots", type=int, default=4, help="load bot processes (even, >= 2)")
    parser.add_argument(
        "--durability",
        choices=DURABILITY,
        default="flush",
        help="the gateway journal's durability (default flush: written to the OS before the "
        "acks; fsync costs a disk flush per batch)",
    )
    parser.set_defaults(func=bench_gateway)
