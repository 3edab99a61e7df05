"""The MQTT gateway: one asyncio process serving a board's Exchange through a Mosquitto broker.

Orders arrive on `techboard/v1/participants/+/orders` (QoS 1); the participant is the topic's
segment, which the broker's ACL lets only that user publish to, never a payload field. What
has arrived while the gateway was busy becomes one micro-batch for `Exchange.submit`, which
journals it (write-ahead, fsync) before anything runs, so every acknowledgement published after
it is durable. Reports go to each participant's reports topic (one message per participant and
batch), market data to `md/{symbol}/book` (level-2 deltas covering every sequence number of the
batch, snapshots on request), `md/{symbol}/trades` and `md/{symbol}/status` (retained), the
reference data to `ref/instruments` (retained) and the gateway's own online/offline status to
`gateway/status` (retained, offline as its last will). A resend of a used client order id gets
the original outcome again, marked `duplicate`, and is never executed twice. A participant's
`bye` (its last will when its connection drops) cancels its live orders when its account says
cancel-on-disconnect. The session clock runs at a configured speed through the calendar's
phases. Units: prices in price units (1/10000 CNY), quantities in shares, times in ns UTC.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import socket
import time
from collections import defaultdict
from typing import Any

import aiomqtt
import numpy as np
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from exchange.clearing.accounts import Participant
from exchange.dtypes import ORDER_DTYPE, MarketDataKind, OrderCommand, VenueEventKind
from exchange.orders import ClientOrderIds
from exchange.reasons import VenueReason
from exchange.venue.exchange import Exchange, Listing
from gateway.config import GatewayConfig
from gateway.protocol import (
    BOOK_TOPIC,
    GATEWAY_TOPIC,
    JSON_CONTENT_TYPE,
    ORDERS_SUBSCRIPTION,
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
from matching_engine.dtypes import EventKind, Phase, Side

log = logging.getLogger("techboard.gateway")

NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
SESSION_EXPIRY_S = 3600  # the broker keeps the gateway's subscriptions and queued orders this long
MAX_PENDING_PUBLISHES = 20_000  # outgoing messages awaiting their PUBACK before reading pauses
MAX_BATCH_ROWS = 20_000  # rows in one submit; more waiting are the next batch
TICK_S = 0.05  # session clock check
SIDE_NAMES = {Side.BUY: "buy", Side.SELL: "sell"}
PHASE_NAMES = {Phase.CONTINUOUS: "continuous", Phase.CALL: "call", Phase.HALTED: "halted"}


def nodelay_socket_options() -> list[tuple[int, int, int]]:
    """Return the socket options every MQTT client here uses (TCP_NODELAY: no Nagle delay)."""
    return [NODELAY]


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

    def take(self) -> bool:
        """Take one token; return False (refuse) when none is left."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Gateway:
    """A board's Exchange behind MQTT topics (see the module docstring)."""

    def __init__(self, config: GatewayConfig) -> None:
        """Open the venue: listings, participants, opening cash and shares, the trading day."""
        self.config = config
        self.names = [p.name for p in config.participants]
        self.ids = {name: i for i, name in enumerate(self.names)}
        self.exchange = Exchange(
            config.board,
            [Listing(x.symbol, x.instrument_class, x.previous_close) for x in config.instruments],
            [
                Participant(i, p.kind, p.financial_assets, p.experience_months)
                for i, p in enumerate(config.participants)
            ],
            calendar=config.calendar,
            journal=config.journal or None,
            fsync=config.fsync,
        )
        self.symbols = [x.symbol for x in config.instruments]
        for i, p in enumerate(config.participants):
            if p.cash:
                self.exchange.deposit(i, p.cash)
            for symbol, quantity in p.shares.items():
                self.exchange.issue(self.exchange.symbols[symbol], i, quantity)
        calendar = self.exchange.calendar
        day = datetime.date.fromisoformat(config.session.date) if config.session.date else None
        day = day or datetime.datetime.now(datetime.UTC).date()
        origin = calendar.local_ns(day, config.session.start)
        self.clock = SessionClock(origin, config.session.speed)
        self.exchange.open_day(calendar.local_date(self.clock.now()))
        self.client_ids = ClientOrderIds()
        self.outcomes: dict[tuple[int, str], dict[str, Any]] = {}  # first answer of each new order
        self.live: list[set[int]] = [set() for _ in self.names]  # live client order ids
        self.buckets = [TokenBucket(config.limits.orders_per_second) for _ in self.names]
        self.as_json = [False] * len(self.names)
        self.pending: list[tuple[int, Request | Rejection]] = []
        self.trades = 0  # trade numbers in fill reports, 1, 2, ... over the gateway's life
        self.statuses: dict[int, dict[str, Any]] = {}
        self.client: aiomqtt.Client | None = None
        self.publishing: set[asyncio.Task[None]] = set()
        self.received = self.batches = 0

    # the MQTT side ------------------------------------------------------------------------

    def mqtt_client(self) -> aiomqtt.Client:
        """Return the gateway's MQTT v5 client: persistent session, last will, bounded queue."""
        broker = self.config.broker
        connect = Properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = SESSION_EXPIRY_S
        will = aiomqtt.Will(GATEWAY_TOPIC, encode({"type": "gateway", "state": "offline"}), 1, True)
        return aiomqtt.Client(
            broker.host,
            broker.port,
            username=broker.username,
            password=broker.password or None,
            identifier=broker.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            will=will,
            properties=connect,
            max_queued_incoming_messages=self.config.limits.queue,
            max_inflight_messages=1000,
            socket_options=nodelay_socket_options(),
        )

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        """Serve until stop is set: connect, and reconnect with the same session when dropped."""
        stop = stop or asyncio.Event()
        client = self.mqtt_client()
        while not stop.is_set():
            try:
                async with client:
                    self.client = client
                    await self._online(client)
                    await _until(stop, self._consume(client), self._tick())
                    await self._publish_now(
                        GATEWAY_TOPIC, {"type": "gateway", "state": "offline"}, retain=True
                    )
            except aiomqtt.MqttError as error:
                log.warning("broker connection lost (%s); reconnecting in 1 s", error)
                self.client = None
                await asyncio.sleep(1)

    async def _online(self, client: aiomqtt.Client) -> None:
        await client.subscribe(ORDERS_SUBSCRIPTION, qos=1)
        await self._publish_now(REFERENCE_TOPIC, self.reference(), retain=True)
        self.statuses.clear()
        self._publish_statuses()
        online = {"type": "gateway", "state": "online", "board": self.config.board}
        await self._publish_now(GATEWAY_TOPIC, online, retain=True)
        log.info(
            "gateway online: %d instruments, %d participants", len(self.symbols), len(self.names)
        )

    async def _consume(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self.receive(str(message.topic), message.payload, message.properties)
            if not len(client.messages) or len(self.pending) >= MAX_BATCH_ROWS:
                self.flush()
            if len(self.publishing) > MAX_PENDING_PUBLISHES:
                await asyncio.wait(self.publishing, return_when=asyncio.FIRST_COMPLETED)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.flush()

    def _publish(self, topic: str, message: dict[str, Any], retain: bool = False,
                 as_json: bool = False) -> None:  # fmt: skip
        if self.client is None:
            return
        task = asyncio.get_running_loop().create_task(
            self._publish_now(topic, message, retain, as_json)
        )
        self.publishing.add(task)
        task.add_done_callback(self.publishing.discard)

    async def _publish_now(self, topic: str, message: dict[str, Any], retain: bool = False,
                           as_json: bool = False) -> None:  # fmt: skip
        client = self.client
        if client is None:
            return
        properties = None
        if as_json:
            properties = Properties(PacketTypes.PUBLISH)
            properties.ContentType = JSON_CONTENT_TYPE
        try:
            await client.publish(topic, encode(message, as_json), 1, retain, properties)
        except aiomqtt.MqttError as error:
            log.warning("publish to %s failed: %s", topic, error)

    # requests in ------------------------------------------------------------------------

    def receive(self, topic: str, payload: Any, properties: Properties | None) -> None:
        """Decode one message from a participant's orders topic into the pending batch."""
        parts = topic.split("/")
        participant = self.ids.get(parts[3]) if len(parts) == 5 else None
        if participant is None:
            log.warning("message on %s from no configured participant: ignored", topic)
            return
        self.received += 1
        content_type = getattr(properties, "ContentType", None)
        self.as_json[participant] = content_type == JSON_CONTENT_TYPE
        data = bytes(payload) if isinstance(payload, bytes | bytearray) else b""
        if len(data) > self.config.limits.max_message_bytes:
            limit = self.config.limits.max_message_bytes
            text = f"payload of {len(data)} bytes is over the limit of {limit}"
            self.pending.append((participant, Rejection(WireReason.OVERSIZED, text)))
            return
        bucket = self.buckets[participant]
        for request in decode(data, content_type):
            if isinstance(request, NewOrder | Cancel | Replace) and not bucket.take():
                text = f"over {bucket.rate} orders a second"
                request = Rejection(WireReason.RATE_LIMITED, text, request.id)
            self.pending.append((participant, request))

    # the batch --------------------------------------------------------------------------

    def flush(self) -> None:
        """Run the pending requests as one batch through the Exchange and publish the results."""
        exchange = self.exchange
        now = max(self.clock.now(), exchange.clock)
        reports: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._session(now, reports)
        if exchange.day is None:
            for p, request in self.pending:
                reports[p].append(self._refusal(request, VenueReason.MARKET_CLOSED))
            self.pending.clear()
            self._send_reports(reports)
            return
        pending, self.pending = self.pending, []
        rows = np.zeros(len(pending), ORDER_DTYPE)
        texts: list[str] = []
        snapshots: list[tuple[int, int]] = []
        leaving: list[int] = []
        for p, request in pending:
            if isinstance(request, Rejection):
                reports[p].append(rejection_report(request))
            elif isinstance(request, SnapshotRequest):
                instrument = exchange.symbols.get(request.symbol)
                if instrument is None:
                    reports[p].append(self._refusal(request, VenueReason.UNKNOWN_INSTRUMENT))
                else:
                    snapshots.append((p, instrument))
            elif isinstance(request, Bye):
                leaving.append(p)
            else:
                reason = self._row(rows[len(texts)], p, request, now)
                if (
                    reason == VenueReason.DUPLICATE_CLIENT_ORDER_ID
                    and (p, request.id) in self.outcomes
                ):
                    reports[p].append({**self.outcomes[p, request.id], "duplicate": True})
                elif reason:
                    reports[p].append(self._refusal(request, reason))
                else:
                    texts.append(request.id)
        if texts:
            self._submit(rows[: len(texts)], texts, reports)
        for p in leaving:
            self._leave(p, now, reports)
        for p, instrument in snapshots:
            reports[p].append(self.snapshot(instrument))
        self._send_reports(reports)

    def _row(self, row: np.void, p: int, request: NewOrder | Cancel | Replace, now: int) -> int:
        """Fill a venue command row for a request; return a reason code (0: the row is good)."""
        if isinstance(request, NewOrder):
            instrument = self.exchange.symbols.get(request.symbol)
            if instrument is None:
                return VenueReason.UNKNOWN_INSTRUMENT
            reason, number = self.client_ids.assign(p, request.id)
            if reason:
                return reason
            row["kind"], row["side"], row["order_type"], row["tif"] = (
                OrderCommand.NEW, request.side, request.order_type, request.tif,
            )  # fmt: skip
            row["instrument"], row["price"] = instrument, request.price
            row["quantity"] = request.quantity
        else:
            reason, number = self.client_ids.find(p, request.id)
            if reason:
                return reason
            row["kind"] = OrderCommand.CANCEL
            if isinstance(request, Replace):
                row["kind"], row["price"] = OrderCommand.REPLACE, request.price
                row["quantity"] = request.quantity
        row["participant"], row["client_order_id"], row["timestamp"] = p, number, now
        return 0

    def _refusal(self, request: Request | Rejection, code: int) -> dict[str, Any]:
        return rejection_report(Rejection(code, code_text(code), getattr(request, "id", "")))

    def _submit(self, rows: np.ndarray, texts: list[str],
                reports: dict[int, list[dict[str, Any]]]) -> None:  # fmt: skip
        """Submit rows (journaled before they run) and turn their events into reports."""
        events = self.exchange.submit(rows, reuse=True)
        self.batches += 1
        kinds = rows["kind"]
        self._events(events, reports, texts, kinds)
        self._market_data(self.exchange.last_market_data)

    def _events(
        self,
        events: np.ndarray,
        reports: dict[int, list[dict[str, Any]]],
        texts: list[str] | None = None,
        kinds: np.ndarray | None = None,
    ) -> None:
        """Turn venue events into participants' reports; keep each new order's first answer."""
        text_of = self.client_ids.text
        for e in events.tolist():
            (kind, side, _phase, reason, book, owner, contra, command, order_id, _contra_order,
             price, quantity, leaves, contra_leaves, _ts, cid, contra_cid, fee,
             contra_fee) = e  # fmt: skip
            if kind in (EventKind.UNCROSSED, EventKind.PHASE):
                continue
            text = (
                text_of(owner, cid) if cid else (texts[command] if texts and command >= 0 else "")
            )
            symbol = self.symbols[book] if 0 <= book < len(self.symbols) else ""
            if kind == EventKind.TRADE:
                self.trades += 1
                for p, t, s, left, paid, role in (
                    (owner, text, side, leaves, fee, "taker"),
                    (
                        contra,
                        text_of(contra, contra_cid),
                        1 - side,
                        contra_leaves,
                        contra_fee,
                        "maker",
                    ),
                ):
                    if left == 0:
                        self.live[p].discard(self.client_ids.find(p, t)[1])
                    reports[p].append({
                        "type": "fill", "id": t, "symbol": symbol, "side": SIDE_NAMES[s],
                        "price": price, "qty": quantity, "leaves": left, "fee": paid,
                        "role": role, "trade": self.trades,
                    })  # fmt: skip
                continue
            if kind in (EventKind.ACCEPTED, VenueEventKind.QUEUED):
                self.live[owner].add(cid)
                report = {
                    "type": "ack", "id": text, "order_id": order_id, "symbol": symbol,
                    "side": SIDE_NAMES[side], "price": price, "qty": quantity,
                    "state": "queued" if kind == VenueEventKind.QUEUED else "accepted",
                }  # fmt: skip
            elif kind == EventKind.REPLACED:
                report = {"type": "ack", "id": text, "order_id": order_id, "symbol": symbol,
                          "price": price, "qty": leaves, "state": "replaced"}  # fmt: skip
            elif kind == EventKind.REJECTED:
                report = rejection_report(Rejection(reason, code_text(reason), text))
            else:  # CANCELLED, EXPIRED
                self.live[owner].discard(cid)
                report = {"type": "cancelled", "id": text, "order_id": order_id, "symbol": symbol,
                          "qty": quantity, "code": reason, "reason": code_name(reason)}  # fmt: skip
            first = kinds is not None and command >= 0 and kinds[command] == OrderCommand.NEW
            if first and kind in (EventKind.ACCEPTED, VenueEventKind.QUEUED, EventKind.REJECTED):
                self.outcomes[owner, text] = report
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

    def _send_reports(self, reports: dict[int, list[dict[str, Any]]]) -> None:
        for p, items in reports.items():
            topic = REPORTS_TOPIC.format(participant=self.names[p])
            self._publish(topic, {"type": "reports", "items": items}, as_json=self.as_json[p])

    def _market_data(self, md: np.ndarray) -> None:
        """Publish the batch's market data: one delta per instrument covering its sequence
        numbers, its trade prints, and the statuses that changed."""
        if not len(md):
            return
        phase_changed = False
        for instrument in np.unique(md["instrument"]).tolist():
            rows = md[md["instrument"] == instrument]
            symbol = self.symbols[instrument]
            kinds = rows["kind"]
            levels = rows[kinds == MarketDataKind.LEVEL]
            delta = {
                "type": "delta", "symbol": symbol, "first": int(rows["seq"][0]),
                "seq": int(rows["seq"][-1]),
                "levels": levels[["side", "price", "quantity", "orders"]].tolist(),
            }  # fmt: skip
            self._publish(BOOK_TOPIC.format(symbol=symbol), delta)
            prints = rows[(kinds == MarketDataKind.TRADE) | (kinds == MarketDataKind.FIXED_TRADE)]
            if len(prints):
                trades = prints[["seq", "price", "quantity", "side", "timestamp"]].tolist()
                message = {"type": "trade", "symbol": symbol, "trades": trades}
                self._publish(TRADES_TOPIC.format(symbol=symbol), message)
            phase_changed |= bool((kinds == MarketDataKind.PHASE).any())
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
