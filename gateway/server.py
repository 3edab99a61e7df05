"""The MQTT gateway: one asyncio process serving a board's Exchange through a Mosquitto broker.

Orders arrive on `techboard/v1/participants/{participant}/orders` (QoS 1), each participant's
through a connection and persistent session of the gateway's own (gateway.transport: paho driven
by the loop, a callback per message), read up to PER_TURN messages a loop turn each, one while
the participant sends over its rate, so one participant's flood waits in its own queue in the
broker while the others' orders pass; the participant is the topic's segment, which the broker's
ACL lets only that user publish to, never a payload field. Over its orders_per_second, a
participant's messages are refused unread (RATE_LIMITED, one report a batch saying how many).
What has arrived while the gateway was busy becomes one micro-batch for `Exchange.submit`, which
journals it (write-ahead, fsync) before anything runs, so every acknowledgement published after
it is durable. Reports go to each participant's reports topic (one message per participant and
batch, of up to REPORT_ITEMS items), market data to `md/{symbol}/book` (level-2 deltas covering
every sequence number of the batch, snapshots on request), `md/{symbol}/trades` and
`md/{symbol}/status` (retained), the reference data to `ref/instruments` (retained) and the
gateway's own online/offline status to `gateway/status` (retained, offline as its last will).
A resend of a used client order id gets the original outcome again, marked `duplicate`, and is
never executed twice. Recovery: each
batch's journal record carries its client order id strings and the last record whose reports
the broker had acknowledged (PUBACK); a restarted gateway replays its journal (cutting a torn
tail), rebuilds the id map, the first answers, live orders and trade numbers, and publishes
again the reports of every later record, as it does on reconnecting to the broker for reports
not yet acknowledged (a client may see a report twice: a fill's `trade` number and an
order's `id` identify it). A participant's
`bye` (its last will when its connection drops) cancels its live orders when its account says
cancel-on-disconnect. The session clock runs at a configured speed through the calendar's
phases. Units: prices in price units (1/10000 CNY), quantities in shares, times in ns UTC.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import gc
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from exchange.clearing.accounts import Participant
from exchange.dtypes import ORDER_DTYPE, MarketDataKind, OrderCommand, VenueEventKind
from exchange.orders import ClientOrderIds
from exchange.reasons import VenueReason
from exchange.venue.exchange import Exchange, Listing
from exchange.venue.journal import JournalError, Record
from gateway.config import GatewayConfig
from gateway.protocol import (
    BOOK_TOPIC,
    GATEWAY_TOPIC,
    JSON_CONTENT_TYPE,
    ORDERS_TOPIC,
    REFERENCE_TOPIC,
    REPORTS_TOPIC,
    STATUS_TOPIC,
    TRADES_TOPIC,
    Bye,
    Cancel,
    NewOrder,
    Rejection,
    Replace,
    Request,
    SnapshotRequest,
    WireReason,
    code_name,
    code_text,
    decode,
    encode,
    rejection_report,
)
from gateway.transport import PER_TURN, Connection, ConnectionLost, connect_properties
from matching_engine.dtypes import EventKind, Phase, Side

log = logging.getLogger("techboard.gateway")

SESSION_EXPIRY_S = 3600  # the broker keeps the gateway's subscriptions and queued orders this long
MAX_PENDING_PUBLISHES = 20_000  # outgoing messages awaiting their PUBACK before reading pauses
MAX_BATCH_ROWS = 10_000  # requests in one batch: reading pauses there until it has run
REPORT_ITEMS = 1_000  # report items in one reports message (a batch's reports to a participant
# may take several: one message of them all could pass the broker's packet size limit)
TRADE_PRINTS = 2_000  # trade prints in one trades message
MAX_BATCH_WAIT_S = 0.002  # the longest a message waits for its batch to fill
# A batch does not wait on a timer (the loop's timers have a 1 ms grain): it takes what the loop
# turns bring while each brings more, so it grows with the load by itself. A 1 ms gather (until
# 2026-12-07) saved CPU at 2,000 orders/s but cost every order 1 ms: ack p99 3.9-4.4 ms with
# it, 2.7-2.9 ms without (docs/performance.md, "Gateway").
ALWAYS_READ_BYTES = 32  # a message this short (a bye, a snapshot request) is read over the rate
TICK_S = 0.05  # session clock check
FULL_COLLECTION_RARITY = 1_000  # the gc's third threshold (Python's default 10): what trading
# keeps (the id map, each order's first answer) grows by thousands of objects a batch, so a full
# collection ran every few batches: 2.5-8 us of CPU an order in batched mode, in process)
SIDE_NAMES = {Side.BUY: "buy", Side.SELL: "sell"}
PHASE_NAMES = {Phase.CONTINUOUS: "continuous", Phase.CALL: "call", Phase.HALTED: "halted"}
# enum members as plain ints for the per-order loops (a member lookup on an IntEnum class goes
# through the metaclass: a tenth of the gateway's time per order)
NEW, CANCEL, REPLACE = int(OrderCommand.NEW), int(OrderCommand.CANCEL), int(OrderCommand.REPLACE)
ACCEPTED, REJECTED, TRADE = int(EventKind.ACCEPTED), int(EventKind.REJECTED), int(EventKind.TRADE)
REPLACED, QUEUED = int(EventKind.REPLACED), int(VenueEventKind.QUEUED)
DUPLICATE = int(VenueReason.DUPLICATE_CLIENT_ORDER_ID)
UNKNOWN_INSTRUMENT = int(VenueReason.UNKNOWN_INSTRUMENT)
MD_LEVEL, MD_PHASE = int(MarketDataKind.LEVEL), int(MarketDataKind.PHASE)
MD_PRINTS = (int(MarketDataKind.TRADE), int(MarketDataKind.FIXED_TRADE))
MD_PYTHON_ROWS = 64  # market-data rows of a batch read in one Python pass; more: numpy masks
SILENT = (int(EventKind.UNCROSSED), int(EventKind.PHASE))  # events that make no report
FIRST_ANSWERS = (ACCEPTED, QUEUED, REJECTED)  # a new order's outcome, kept for resends
EVENT_FIELDS = (
    "kind",
    "side",
    "reason",
    "book",
    "owner",
    "contra_owner",
    "command",
    "order_id",
    "price",
    "quantity",
    "leaves",
    "contra_leaves",
    "client_order_id",
    "contra_client_order_id",
    "fee",
    "contra_fee",
)  # what _events reads of an event


class SessionClock:
    """Session time (ns UTC) from the wall clock: origin + elapsed x speed (speed 0: wall time)."""

    def __init__(self, origin: int, speed: float) -> None:
        """Start the clock at origin (ns UTC) now."""
        self.origin, self.speed = origin, speed
        self.started = time.monotonic_ns()

    def now(self) -> int:
        """Return the session time (ns UTC)."""
        if self.speed == 0:
            return time.time_ns()
        return self.origin + int((time.monotonic_ns() - self.started) * self.speed)


class TokenBucket:
    """Allow `rate` orders a second with a burst of two seconds' worth."""

    def __init__(self, rate: int) -> None:
        """Start full."""
        self.rate, self.capacity = rate, 2 * rate
        self.tokens, self.stamp = float(self.capacity), time.monotonic()

    def take(self, count: int) -> int:
        """Take up to count tokens; return how many were taken (the rest are refused)."""
        self.empty()
        taken = min(count, int(self.tokens))
        self.tokens -= taken
        return taken

    def empty(self) -> bool:
        """Return whether no token is left now."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens < 1


Reports = dict[int, list[dict[str, Any]]]  # participant -> report items, in order


@dataclass
class Unconfirmed:
    """A batch's report messages the broker has not acknowledged yet, by participant."""

    first: int  # the batch's first journal sequence number
    # (participant, part) -> (reports message, as JSON?)
    messages: dict[tuple[int, int], tuple[dict[str, Any], bool]] = field(default_factory=dict)


class Gateway:
    """A board's Exchange behind MQTT topics (see the module docstring)."""

    def __init__(self, config: GatewayConfig) -> None:
        """Open the venue: listings, participants, opening cash and shares, the trading day; or,
        when the journal exists, recover it (JournalError naming the byte offset of a
        corruption before its end)."""
        self.config = config
        self.names = [p.name for p in config.participants]
        self.ids = {name: i for i, name in enumerate(self.names)}
        self.symbols = [x.symbol for x in config.instruments]
        self.client_ids = ClientOrderIds()
        # each new order's first answer, by participant and client order id number
        self.outcomes: list[list[dict[str, Any] | None]] = [[None] for _ in self.names]
        self.live: list[set[int]] = [set() for _ in self.names]  # live client order ids
        self.trades = 0  # trade numbers in fill reports, 1, 2, ... over the journal's life
        self.unconfirmed: dict[int, Unconfirmed] = {}  # by batch number
        self.sent = 0  # batches of reports so far
        self.first = 0  # the journal sequence number the batch being run starts at
        self.as_json = [False] * len(self.names)
        journal = Path(config.journal) if config.journal else None
        if journal is not None and journal.exists() and journal.stat().st_size:
            self.exchange = self._recover(journal)
        else:
            self.exchange = self._open()
        self.exchange.reserve(0, config.limits.reserve_orders)
        calendar = self.exchange.calendar
        day = datetime.date.fromisoformat(config.session.date) if config.session.date else None
        day = day or datetime.datetime.now(datetime.UTC).date()
        origin = max(calendar.local_ns(day, config.session.start), self.exchange.clock)
        self.clock = SessionClock(origin, config.session.speed)
        steps = self._set_up()
        done = self.exchange.journal.next_seq - 2 if self.exchange.journal else 0
        for step in steps[done:]:
            step()
        self.buckets = [TokenBucket(config.limits.orders_per_second) for _ in self.names]
        self.unread: Counter[int] = Counter()  # messages refused unread (rate) since the batch
        self.pending: list[tuple[int, Request | Rejection]] = []
        self.statuses: dict[int, dict[str, Any]] = {}
        self.client: Connection | None = None
        self.readers: list[Connection] = []
        self.paused = False  # reading orders paused (a full queue, or publishes unacknowledged)
        self.received = self.batches = 0
        self.arrived = asyncio.Event()  # messages wait for a batch

    def _set_up(self) -> list[Callable[[], Any]]:
        """Return the opening calls in order: cash, shares, the day (a recovered journal that
        stops among them has the first ones: the records after the genesis)."""
        exchange, steps = self.exchange, []
        for i, p in enumerate(self.config.participants):
            if p.cash:
                steps.append(functools.partial(exchange.deposit, i, p.cash))
            for symbol, quantity in p.shares.items():
                steps.append(
                    functools.partial(exchange.issue, exchange.symbols[symbol], i, quantity)
                )
        day = exchange.calendar.local_date(self.clock.now())
        return [*steps, functools.partial(exchange.open_day, day)]

    def _open(self) -> Exchange:
        """Return a new venue of the configured board, listings and participants."""
        config = self.config
        return Exchange(
            config.board,
            [Listing(x.symbol, x.instrument_class, x.previous_close) for x in config.instruments],
            [
                Participant(i, p.kind, p.financial_assets, p.experience_months)
                for i, p in enumerate(config.participants)
            ],
            calendar=config.calendar,
            journal=config.journal or None,
            durability=config.durability,
        )

    def _recover(self, journal: Path) -> Exchange:
        """Replay the journal: the venue, then the gateway's own state from each record; the
        reports of records after the last one the broker acknowledged wait to be sent again."""
        replayed: dict[int, Reports] = {}
        published = 0

        def observe(exchange: Exchange, record: Record) -> None:
            nonlocal published
            op: dict[str, Any] = record.payload  # type: ignore[assignment]  (replay read it)
            reports: Reports = defaultdict(list)
            if op["op"] == "submit":
                rows, note = np.frombuffer(op["rows"], ORDER_DTYPE), op.get("note")
                if note is None:
                    raise JournalError(
                        f"{journal}: record at byte {record.offset} has no client order ids: "
                        "not a gateway's journal"
                    )
                self._register(rows, note["ids"], journal, record.offset)
                self._events(exchange.last_events, reports, note["ids"], rows)
                published = note["published"]
            elif op["op"] in ("advance", "end_of_day"):
                self._events(exchange.last_events, reports)
            if reports:
                replayed[record.seq] = reports

        exchange = Exchange.replay(journal, True, self.config.durability, observe)
        if exchange.torn is not None:
            log.warning("journal recovery: %s; cut there", exchange.torn)
        listed = [x.symbol for x in exchange.listings]
        if listed != self.symbols or len(exchange.participants) != len(self.names):
            raise ValueError(
                f"{journal}: its instruments {listed} and {len(exchange.participants)} "
                f"participants are not the config's {self.symbols} and {len(self.names)}"
            )
        for seq, reports in replayed.items():
            if seq > published:
                self._keep(reports, seq)
        log.info(
            "journal recovery: %d records, sequence continues at %d, %d trades, %d batches of "
            "reports to send again", exchange.journal.next_seq - 1, exchange.journal.next_seq,
            self.trades, len(self.unconfirmed),
        )  # fmt: skip
        return exchange

    def _register(self, rows: np.ndarray, texts: list[str], journal: Path, offset: int) -> None:
        """Give each replayed new order its client order id string again, as it had."""
        columns = (rows[x].tolist() for x in ("kind", "participant", "client_order_id"))
        for kind, p, number, text in zip(*columns, texts, strict=True):
            if kind == OrderCommand.NEW and self.client_ids.assign(p, text) != (0, number):
                raise JournalError(
                    f"{journal}: record at byte {offset}: client order id {text!r} of "
                    f"participant {p} does not replay as number {number}"
                )

    # the MQTT side ------------------------------------------------------------------------

    def connection(self, participant: str | None = None) -> Connection:
        """Return one of the gateway's MQTT v5 connections: the main one (publishes; last will),
        or a participant's order reader: its own persistent session, so the broker keeps a
        participant's backlog apart from the others' and a restarted gateway gets the orders
        queued while it was down."""
        broker = self.config.broker
        offline = encode({"type": "gateway", "state": "offline"})
        return Connection(
            broker.host,
            broker.port,
            username=broker.username,
            password=broker.password or None,
            client_id=f"{broker.client_id}/{participant}" if participant else broker.client_id,
            on_message=self.receive if participant else None,
            clean_start=not participant,
            properties=connect_properties(SESSION_EXPIRY_S if participant else 0),
            will=None if participant else (GATEWAY_TOPIC, offline, 1, True),
        )

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        """Serve until stop is set: connect, and reconnect with the same session when dropped."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            connections: list[Connection] = []
            try:
                for participant in (None, *self.names):
                    connection = self.connection(participant)
                    connections.append(connection)
                    await connection.connect()
                client, *readers = connections
                self.client, self.readers = client, readers
                await _until(
                    stop, self._tick(client, readers), self._batch(),
                    *(c.wait_closed() for c in connections),
                )  # fmt: skip
                offline = encode({"type": "gateway", "state": "offline"})
                await client.publish_acknowledged(GATEWAY_TOPIC, offline, retain=True)
            except ConnectionLost as error:
                log.warning("broker connection lost (%s); reconnecting in 1 s", error)
                await asyncio.sleep(1)
            finally:
                self.client, self.readers = None, []
                for connection in connections:
                    await connection.disconnect()

    async def _online(self, client: Connection, readers: list[Connection]) -> None:
        await asyncio.gather(*(
            reader.subscribe(ORDERS_TOPIC.format(participant=name), qos=1)
            for reader, name in zip(readers, self.names, strict=True)
        ))  # fmt: skip
        self.flush()  # the session clock catches up before the first order: a crossing's kernels
        # load from numba's cache on their first call (about 2 s), which must not stall orders
        gc.collect()
        gc.freeze()  # what start-up made (numba's, the venue's, the recovered state) is never
        # garbage: a full collection traversed it all, 150-280 ms during trading, the ack p99
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_COLLECTION_RARITY)
        await client.publish_acknowledged(REFERENCE_TOPIC, encode(self.reference()), retain=True)
        self.statuses.clear()
        self._publish_statuses()
        online = {"type": "gateway", "state": "online", "board": self.config.board}
        await client.publish_acknowledged(GATEWAY_TOPIC, encode(online), retain=True)
        for batch, unconfirmed in list(self.unconfirmed.items()):
            for key in list(unconfirmed.messages):
                self._publish_report(batch, key)
        log.info(
            "gateway online: %d instruments, %d participants", len(self.symbols), len(self.names)
        )

    async def _batch(self) -> None:
        """Run the micro-batches: once a loop turn brings no more messages, when the batch is
        full, or MAX_BATCH_WAIT_S after its first message; reading pauses while
        MAX_PENDING_PUBLISHES publishes await their PUBACK."""
        while True:
            await self.arrived.wait()
            first, seen = time.monotonic(), -1
            while (
                seen != self.received
                and len(self.pending) < MAX_BATCH_ROWS
                and time.monotonic() - first < MAX_BATCH_WAIT_S
            ):
                seen = self.received
                await asyncio.sleep(0)
            self.arrived.clear()
            self.flush()
            while self.client is not None and self.client.unacknowledged > MAX_PENDING_PUBLISHES:
                self._pause(True)
                await asyncio.sleep(0.001)
            self._pause(False)

    def _pause(self, paused: bool) -> None:
        """Stop (or resume) reading orders."""
        if paused != self.paused:
            self.paused = paused
            for reader in self.readers:
                if paused:
                    reader.pause()
                else:
                    reader.resume()

    async def _tick(self, client: Connection, readers: list[Connection]) -> None:
        """Go online, then move the session clock every TICK_S (orders are read meanwhile: a
        restarted gateway's queued orders arrive before the broker answers its subscription)."""
        await self._online(client, readers)
        while True:
            await asyncio.sleep(TICK_S)
            self.flush()

    def _publish(self, topic: str, message: dict[str, Any], retain: bool = False) -> None:
        """Publish with QoS 1, not waiting for the PUBACK (nothing when disconnected)."""
        if self.client is not None:
            self.client.publish(topic, encode(message), 1, retain)

    def _publish_report(self, batch: int, key: tuple[int, int]) -> None:
        """Publish a batch's reports message (participant, part); forget it once acknowledged."""
        if self.client is None:
            return
        message, as_json = self.unconfirmed[batch].messages[key]
        properties = None
        if as_json:
            properties = Properties(PacketTypes.PUBLISH)
            properties.ContentType = JSON_CONTENT_TYPE
        topic = REPORTS_TOPIC.format(participant=self.names[key[0]])
        confirm = functools.partial(self._confirm, batch, key)
        self.client.publish(topic, encode(message, as_json), 1, False, properties, confirm)

    def _confirm(self, batch: int, key: tuple[int, int]) -> None:
        """Forget a batch's reports message (participant, part): the broker acknowledged it."""
        unconfirmed = self.unconfirmed.get(batch)
        if unconfirmed is not None:
            unconfirmed.messages.pop(key, None)
            if not unconfirmed.messages:
                del self.unconfirmed[batch]

    # requests in ------------------------------------------------------------------------

    def receive(self, topic: str, payload: Any, properties: Properties | None) -> None:
        """Decode one message from a participant's orders topic into the pending batch."""
        parts = topic.split("/")
        participant = self.ids.get(parts[3]) if len(parts) == 5 else None
        if participant is None:
            log.warning("message on %s from no configured participant: ignored", topic)
            return
        content_type = getattr(properties, "ContentType", None)
        self.as_json[participant] = content_type == JSON_CONTENT_TYPE
        data = bytes(payload) if isinstance(payload, bytes | bytearray) else b""
        bucket = self.buckets[participant]
        if ALWAYS_READ_BYTES < len(data) <= self.config.limits.max_message_bytes and bucket.empty():
            # a flood costs no decoding and starts no batch: the next batch (or the session
            # clock's tick, TICK_S) reports how many messages were refused unread
            self.unread[participant] += 1
            self._throttle(participant, 1)
            return
        self.received += 1
        self.arrived.set()
        self._throttle(participant, PER_TURN)
        if len(data) > self.config.limits.max_message_bytes:
            limit = self.config.limits.max_message_bytes
            text = f"payload of {len(data)} bytes is over the limit of {limit}"
            self.pending.append((participant, Rejection(WireReason.OVERSIZED, text)))
            return
        requests = decode(data, content_type)
        orders = [
            r for r in requests if type(r) is NewOrder or type(r) is Cancel or type(r) is Replace
        ]
        allowed = bucket.take(len(orders))
        if allowed < len(orders):  # the orders after the allowance are refused
            over = set(map(id, orders[allowed:]))
            text = f"over {bucket.rate} orders a second"
            requests = [
                Rejection(WireReason.RATE_LIMITED, text, r.id) if id(r) in over else r
                for r in requests
            ]
        self.pending.extend([(participant, request) for request in requests])
        if len(self.pending) >= min(self.config.limits.queue, MAX_BATCH_ROWS):
            self._pause(True)  # the broker holds the rest until the batch has run

    def _throttle(self, participant: int, per_turn: int) -> None:
        """Read a participant's connection per_turn messages a loop turn: 1 while it sends over
        its rate, so the others' orders do not wait behind a turn's worth of its flood (the
        flood test's p99: 20.6 ms at PER_TURN, 8.4 ms at 1)."""
        if participant < len(self.readers):
            self.readers[participant].per_turn = per_turn

    # the batch --------------------------------------------------------------------------

    def flush(self) -> None:
        """Run the pending requests as one batch through the Exchange and publish the results."""
        exchange = self.exchange
        now = max(self.clock.now(), exchange.clock)
        reports: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.first = self._journal_seq() + 1
        for p, count in self.unread.items():
            text = f"{count} messages refused unread: over {self.buckets[p].rate} orders a second"
            reports[p].append(rejection_report(Rejection(WireReason.RATE_LIMITED, text)))
        self.unread.clear()
        self._session(now, reports)
        if exchange.day is None:
            for p, request in self.pending:
                reports[p].append(self._refusal(request, VenueReason.MARKET_CLOSED))
            self.pending.clear()
            self._send_reports(reports)
            return
        pending, self.pending = self.pending, []
        rows: list[tuple[int, ...]] = []
        texts: list[str] = []
        snapshots: list[tuple[int, int]] = []
        leaving: list[int] = []
        repeats: list[tuple[int, Request]] = []  # used ids: answered after the batch has run
        instrument_of, assign, find = (
            exchange.symbols.get,
            self.client_ids.assign,
            self.client_ids.find,
        )
        for p, request in pending:
            kind = type(request)
            if kind is NewOrder or kind is Cancel or kind is Replace:
                if kind is NewOrder:
                    instrument = instrument_of(request.symbol)
                    reason, number = (
                        assign(p, request.id) if instrument is not None else (UNKNOWN_INSTRUMENT, 0)
                    )
                    row = (NEW, request.side, request.order_type, request.tif, p, instrument,
                           number, request.price, request.quantity, now)  # fmt: skip
                else:
                    reason, number = find(p, request.id)
                    row = (
                        (REPLACE, 0, 0, 0, p, 0, number, request.price, request.quantity, now)
                        if kind is Replace
                        else (CANCEL, 0, 0, 0, p, 0, number, 0, 0, now)
                    )
                if not reason:
                    rows.append(row)
                    texts.append(request.id)
                elif reason == DUPLICATE:
                    repeats.append((p, request))
                else:
                    reports[p].append(self._refusal(request, reason))
            elif isinstance(request, Rejection):
                reports[p].append(rejection_report(request))
            elif isinstance(request, SnapshotRequest):
                instrument = exchange.symbols.get(request.symbol)
                if instrument is None:
                    reports[p].append(self._refusal(request, VenueReason.UNKNOWN_INSTRUMENT))
                else:
                    snapshots.append((p, instrument))
            elif isinstance(request, Bye):
                leaving.append(p)
        if texts:
            self._submit(np.array(rows, ORDER_DTYPE), texts, reports)
        for p, request in repeats:  # a resend in its original's batch has its answer now
            first = self.first_answer(p, request.id)
            reports[p].append(
                {**first, "duplicate": True} if first else self._refusal(request, DUPLICATE)
            )
        for p in leaving:
            self._leave(p, now, reports)
        for p, instrument in snapshots:
            reports[p].append(self.snapshot(instrument))
        self._send_reports(reports)

    def first_answer(self, participant: int, client_order_id: str) -> dict[str, Any] | None:
        """Return the first answer (ack or reject) the venue gave a participant's new order
        with this client order id, or None when no order ran with it."""
        _, number = self.client_ids.find(participant, client_order_id)
        answers = self.outcomes[participant]
        return answers[number] if 0 < number < len(answers) else None

    def _refusal(self, request: Request | Rejection, code: int) -> dict[str, Any]:
        return rejection_report(Rejection(code, code_text(code), getattr(request, "id", "")))

    def _submit(self, rows: np.ndarray, texts: list[str],
                reports: dict[int, list[dict[str, Any]]]) -> None:  # fmt: skip
        """Submit rows (journaled before they run, with their client order id strings and the
        acknowledged reports' sequence number) and turn their events into reports."""
        note = {"ids": texts, "published": self._published()}
        events = self.exchange.submit(rows, reuse=True, note=note)
        self.batches += 1
        self._events(events, reports, texts, rows)
        self._market_data(self.exchange.last_market_data)

    def _events(
        self,
        events: np.ndarray,
        reports: dict[int, list[dict[str, Any]]],
        texts: list[str] | None = None,
        rows: np.ndarray | None = None,
    ) -> None:
        """Turn venue events into participants' reports; keep each new order's first answer.
        texts: the client order id strings of rows, the batch submitted (its events' commands)."""
        text_of, symbols, live = self.client_ids.text, self.symbols, self.live
        commands = numbers = senders = None
        if rows is not None and texts:
            commands, numbers, senders = (
                rows[x].tolist() for x in ("kind", "client_order_id", "participant")
            )
        trades = self.trades
        # a column's tolist is one C loop; the rows' tolist builds a tuple of 19 fields a row
        for (kind, side, reason, book, owner, contra, command, order_id, price, quantity, leaves,
             contra_leaves, cid, contra_cid, fee, contra_fee) in zip(
            *(events[name].tolist() for name in EVENT_FIELDS), strict=True
        ):  # fmt: skip
            if kind in SILENT:
                continue
            if numbers and command >= 0 and numbers[command] == cid and senders[command] == owner:
                text = texts[command]  # the command's own order (the id map is large: slower)
            else:
                text = (
                    text_of(owner, cid)
                    if cid
                    else (texts[command] if texts and command >= 0 else "")
                )
            symbol = symbols[book] if 0 <= book < len(symbols) else ""
            if kind == TRADE:
                trades += 1
                if leaves == 0:
                    live[owner].discard(cid)
                if contra_leaves == 0:
                    live[contra].discard(contra_cid)
                reports[owner].append({
                    "type": "fill", "id": text, "symbol": symbol, "side": SIDE_NAMES[side],
                    "price": price, "qty": quantity, "leaves": leaves, "fee": fee,
                    "role": "taker", "trade": trades,
                })  # fmt: skip
                reports[contra].append({
                    "type": "fill", "id": text_of(contra, contra_cid), "symbol": symbol,
                    "side": SIDE_NAMES[1 - side], "price": price, "qty": quantity,
                    "leaves": contra_leaves, "fee": contra_fee, "role": "maker", "trade": trades,
                })  # fmt: skip
                self.trades = trades
                continue
            if kind in (ACCEPTED, QUEUED):
                live[owner].add(cid)
                report = {
                    "type": "ack", "id": text, "order_id": order_id, "symbol": symbol,
                    "side": SIDE_NAMES[side], "price": price, "qty": quantity,
                    "state": "queued" if kind == QUEUED else "accepted",
                }  # fmt: skip
            elif kind == REPLACED:
                report = {"type": "ack", "id": text, "order_id": order_id, "symbol": symbol,
                          "price": price, "qty": leaves, "state": "replaced"}  # fmt: skip
            elif kind == REJECTED:
                report = rejection_report(Rejection(reason, code_text(reason), text))
            else:  # CANCELLED, EXPIRED
                live[owner].discard(cid)
                report = {"type": "cancelled", "id": text, "order_id": order_id, "symbol": symbol,
                          "qty": quantity, "code": reason, "reason": code_name(reason)}  # fmt: skip
            first = commands is not None and command >= 0 and commands[command] == NEW
            if first and kind in FIRST_ANSWERS:
                answers, number = self.outcomes[owner], cid or numbers[command]  # type: ignore[index]
                answers.extend([None] * (number + 1 - len(answers)))
                answers[number] = report
            reports[owner].append(report)

    def _leave(self, p: int, now: int, reports: dict[int, list[dict[str, Any]]]) -> None:
        """Cancel a leaving participant's live orders if its account says cancel-on-disconnect."""
        if not self.config.participants[p].cancel_on_disconnect or not self.live[p]:
            return
        live = sorted(self.live[p])
        rows = np.zeros(len(live), ORDER_DTYPE)
        rows["kind"], rows["participant"], rows["timestamp"] = OrderCommand.CANCEL, p, now
        rows["client_order_id"] = live
        log.info("%s left: cancelling %d live orders", self.names[p], len(live))
        self._submit(rows, [self.client_ids.text(p, c) for c in live], reports)

    def _session(self, now: int, reports: dict[int, list[dict[str, Any]]]) -> None:
        """Move the session clock to now: phase boundaries, the day's end, the next day's open."""
        exchange = self.exchange
        if exchange.day is not None and exchange.spans and now >= exchange.spans[-1].end:
            exchange.end_of_day()
        elif exchange.day is not None and self._crossing(now):
            exchange.advance(now)
        elif exchange.day is None:
            day = exchange.calendar.local_date(now)
            if exchange.calendar.is_trading_day(day) and exchange.closes and day > self._last_day():
                exchange.open_day(day)
                exchange.advance(now)
            else:
                return
        else:
            return
        self._events(exchange.last_events, reports)
        self._market_data(exchange.last_market_data)
        self._publish_statuses()

    def _last_day(self) -> datetime.date:
        return self.exchange.calendar.date_of(int(self.exchange.statement(0).day))

    def _crossing(self, now: int) -> bool:
        clock = self.exchange.clock
        return any(clock < t <= now for s in self.exchange.spans for t in (s.start, s.end))

    # results out ------------------------------------------------------------------------

    def _send_reports(self, reports: Reports) -> None:
        if reports:
            batch = self._keep(reports, self.first)
            for key in self.unconfirmed[batch].messages:
                self._publish_report(batch, key)

    def _keep(self, reports: Reports, first: int) -> int:
        """Keep a batch's reports until the broker acknowledges them, REPORT_ITEMS a message;
        return its number. first: the batch's first journal sequence number."""
        self.sent += 1
        self.unconfirmed[self.sent] = Unconfirmed(first, {
            (p, part): (
                {"type": "reports", "items": items[i : i + REPORT_ITEMS]}, self.as_json[p]
            )
            for p, items in reports.items()
            for part, i in enumerate(range(0, len(items), REPORT_ITEMS))
        })  # fmt: skip
        return self.sent

    def _journal_seq(self) -> int:
        """Return the journal's last sequence number (0 without a journal)."""
        journal = self.exchange.journal
        return journal.next_seq - 1 if journal is not None else 0

    def _published(self) -> int:
        """Return the sequence number up to which every record's reports are acknowledged (the
        batches wait in order: the oldest has the lowest first sequence number)."""
        oldest = next(iter(self.unconfirmed.values()), None)
        return min(self.first, oldest.first if oldest else self.first) - 1

    def _market_data(self, md: np.ndarray) -> None:
        """Publish the batch's market data: one delta per instrument covering its sequence
        numbers, its trade prints, and the statuses that changed (a few rows in one Python pass:
        numpy's per-call cost was 50 us a batch of a few orders; many rows through numpy)."""
        if not len(md):
            return
        books: dict[int, list[Any]] = {}  # instrument -> [first seq, last seq, levels, prints]
        phase_changed = False
        if len(md) > MD_PYTHON_ROWS:  # numpy's masks pay off over many rows
            kinds = md["kind"]
            phase_changed = bool((kinds == MD_PHASE).any())
            for instrument in np.unique(md["instrument"]).tolist():
                rows = md[md["instrument"] == instrument]
                kinds = rows["kind"]
                levels = rows[kinds == MD_LEVEL][["side", "price", "quantity", "orders"]]
                prints = rows[np.isin(kinds, MD_PRINTS)]
                books[instrument] = [
                    int(rows["seq"][0]), int(rows["seq"][-1]), levels.tolist(),
                    prints[["seq", "price", "quantity", "side", "timestamp"]].tolist(),
                ]  # fmt: skip
        for kind, side, instrument, seq, price, quantity, orders, timestamp in (
            md.tolist() if not books else ()
        ):
            book = books.get(instrument)
            if book is None:
                book = books[instrument] = [seq, seq, [], []]
            book[1] = seq
            if kind == MD_LEVEL:
                book[2].append((side, price, quantity, orders))
            elif kind in MD_PRINTS:
                book[3].append((seq, price, quantity, side, timestamp))
            elif kind == MD_PHASE:
                phase_changed = True
        for instrument, (first, last, levels, trades) in books.items():
            symbol = self.symbols[instrument]
            delta = {"type": "delta", "symbol": symbol, "first": first, "seq": last,
                     "levels": levels}  # fmt: skip
            self._publish(BOOK_TOPIC.format(symbol=symbol), delta)
            for i in range(0, len(trades), TRADE_PRINTS):
                message = {
                    "type": "trade",
                    "symbol": symbol,
                    "trades": trades[i : i + TRADE_PRINTS],
                }
                self._publish(TRADES_TOPIC.format(symbol=symbol), message)
        if phase_changed:
            self._publish_statuses()

    def _publish_statuses(self) -> None:
        exchange = self.exchange
        session = exchange.status[-1][1] if exchange.status else "closed"
        for i, symbol in enumerate(self.symbols):
            status = {
                "type": "status", "symbol": symbol, "session": session,
                "book": PHASE_NAMES[exchange.engine.phase(i)],
                "halted": bool(exchange.halts.halted(i, exchange.clock)),
            }  # fmt: skip
            if self.statuses.get(i) != status:
                self.statuses[i] = status
                self._publish(STATUS_TOPIC.format(symbol=symbol), status, retain=True)

    def snapshot(self, instrument: int) -> dict[str, Any]:
        """Return the level-2 snapshot message of an instrument, with the sequence it reflects."""
        book = self.exchange.book(instrument, self.config.limits.snapshot_levels)
        return {
            "type": "snapshot", "symbol": self.symbols[instrument], "seq": book.seq,
            "bids": [list(x) for x in book.bids], "asks": [list(x) for x in book.asks],
        }  # fmt: skip

    def reference(self) -> dict[str, Any]:
        """Return the reference data message: each instrument's terms and the day's limits."""
        items = []
        for i, listing in enumerate(self.exchange.listings):
            rules = self.exchange.rules[i]
            items.append({
                "symbol": listing.symbol, "index": i, "class": listing.instrument_class,
                "tick": rules.tick, "lot": rules.lot.minimum,
                "previous_close": listing.previous_close,
            })  # fmt: skip
        return {"type": "reference", "board": self.config.board, "instruments": items}


async def _until(stop: asyncio.Event, *jobs: Any) -> None:
    """Run jobs until stop is set or one of them ends (raising what it raised)."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper:
                task.result()
    finally:
        for task in (*tasks, stopper):
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
