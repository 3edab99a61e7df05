"""The client SDK: an async MQTT v5 client of the gateway for bots and users.

    async with GatewayClient("127.0.0.1", 1883, "alice", password) as client:
        await client.watch("AAA")                      # market data and a local book
        await client.place("a1", "AAA", "buy", 200, price=100_000)
        async for report in client.reports():          # ack, reject, fill, cancelled, snapshot
            ...

Requests go to the participant's own orders topic with QoS 1 (a `batch` carries up to
protocol.MAX_BATCH of them); the connection's last will is a `bye` there, so the gateway
applies cancel-on-disconnect when the connection drops. Reports arrive on the participant's
reports topic. A watched symbol keeps a LocalBook from a snapshot and the deltas after it; a
delta whose first sequence number is not the next one is a gap: the book asks for a snapshot
and resumes from it. Units: prices in price units (1/10000 CNY), quantities in shares.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiomqtt

from gateway.mqtt import nodelay_socket_options, share_property_tables
from gateway.protocol import (
    BOOK_TOPIC,
    MAX_BATCH,
    ORDERS_TOPIC,
    REFERENCE_TOPIC,
    REPORTS_TOPIC,
    TRADES_TOPIC,
    encode,
    new_order,
    read,
)


class LocalBook:
    """A level-2 book of one symbol rebuilt from a snapshot and the deltas after it."""

    def __init__(self, symbol: str) -> None:
        """Start empty and unsynchronised (seq 0: waiting for a snapshot)."""
        self.symbol = symbol
        self.seq = 0
        self.bids: dict[int, tuple[int, int]] = {}  # price -> (quantity, orders)
        self.asks: dict[int, tuple[int, int]] = {}
        self.waiting: list[dict[str, Any]] = []  # deltas held until the snapshot arrives
        self.gaps = 0

    @property
    def synced(self) -> bool:
        """Return whether the book reflects a snapshot and every delta after it."""
        return self.seq > 0

    def apply_snapshot(self, message: dict[str, Any]) -> None:
        """Load a snapshot, then the held deltas that follow it."""
        self.bids = {p: (q, n) for p, q, n in message["bids"]}
        self.asks = {p: (q, n) for p, q, n in message["asks"]}
        self.seq = max(int(message["seq"]), 1)
        held, self.waiting = self.waiting, []
        for delta in held:
            if delta["seq"] > self.seq:
                self.apply_delta(delta)

    def apply_delta(self, message: dict[str, Any]) -> bool:
        """Apply a delta; return False on a gap (the book is unsynchronised until a snapshot)."""
        if not self.synced:
            self.waiting.append(message)
            return True
        if message["seq"] <= self.seq:
            return True  # already in the snapshot
        if message["first"] != self.seq + 1:
            self.gaps += 1
            self.seq = 0
            self.waiting = [message]
            return False
        for side, price, quantity, orders in message["levels"]:
            levels = self.bids if side == 0 else self.asks
            if quantity:
                levels[price] = (quantity, orders)
            else:
                levels.pop(price, None)
        self.seq = message["seq"]
        return True

    def best_bid(self) -> int | None:
        """Return the best bid price (None: no bid)."""
        return max(self.bids, default=None)

    def best_ask(self) -> int | None:
        """Return the best ask price (None: no ask)."""
        return min(self.asks, default=None)


class GatewayClient:
    """A participant's connection to the gateway through the broker (see the module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        client_id: str | None = None,
        queue: int = 100_000,
    ) -> None:
        """Prepare a connection as broker user `username` (the participant's name)."""
        share_property_tables()
        self.participant = username
        self.orders_topic = ORDERS_TOPIC.format(participant=username)
        self.reports_topic = REPORTS_TOPIC.format(participant=username)
        will = aiomqtt.Will(self.orders_topic, encode({"type": "bye"}), qos=1)
        self.mqtt = aiomqtt.Client(
            host,
            port,
            username=username,
            password=password,
            identifier=client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            will=will,
            max_queued_incoming_messages=queue,
            max_inflight_messages=1000,
            socket_options=nodelay_socket_options(),
        )
        self.books: dict[str, LocalBook] = {}
        self.trades: asyncio.Queue[dict[str, Any]] = asyncio.Queue(queue)
        self._reports: asyncio.Queue[dict[str, Any]] = asyncio.Queue(queue)
        self._reader: asyncio.Task[None] | None = None
        self._reference: asyncio.Future[dict[str, Any]] | None = None

    async def __aenter__(self) -> GatewayClient:
        """Connect, subscribe to the reports and reference data topics and start reading."""
        await self.mqtt.__aenter__()
        self._reference = asyncio.get_running_loop().create_future()
        await self.mqtt.subscribe(self.reports_topic, qos=1)
        await self.mqtt.subscribe(REFERENCE_TOPIC, qos=1)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Say bye (cancel-on-disconnect applies) and disconnect."""
        await self.close()

    async def close(self, bye: bool = True) -> None:
        """Disconnect; bye: tell the gateway first (else only a dropped line would)."""
        if bye:
            await self.send([{"type": "bye"}])
        if self._reader is not None:
            self._reader.cancel()
        await self.mqtt.__aexit__(None, None, None)

    async def _read(self) -> None:
        async for message in self.mqtt.messages:
            body = read(bytes(message.payload))  # type: ignore[arg-type]
            kind = body.get("type")
            if kind == "reports":
                for item in body["items"]:
                    if item["type"] == "snapshot" and item["symbol"] in self.books:
                        self.books[item["symbol"]].apply_snapshot(item)
                    await self._reports.put(item)
            elif kind == "delta":
                book = self.books.get(body["symbol"])
                if book is not None and not book.apply_delta(body):
                    await self.request_snapshot(book.symbol)
            elif kind == "trade":
                for trade in body["trades"]:
                    await self.trades.put({"symbol": body["symbol"], "trade": trade})
            elif kind == "reference" and self._reference is not None:
                if self._reference.done():
                    self._reference = asyncio.get_running_loop().create_future()
                self._reference.set_result(body)

    async def instruments(self, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
        """Return the reference data by symbol (tick, lot, previous_close, class, index)."""
        if self._reference is None:
            raise RuntimeError("connect first: async with GatewayClient(...)")
        body = await asyncio.wait_for(asyncio.shield(self._reference), timeout)
        return {x["symbol"]: x for x in body["instruments"]}

    async def watch(self, symbol: str) -> LocalBook:
        """Subscribe to a symbol's book and trades and ask for a snapshot; return its book."""
        book = self.books.setdefault(symbol, LocalBook(symbol))
        await self.mqtt.subscribe(BOOK_TOPIC.format(symbol=symbol), qos=1)
        await self.mqtt.subscribe(TRADES_TOPIC.format(symbol=symbol), qos=1)
        await self.request_snapshot(symbol)
        return book

    async def request_snapshot(self, symbol: str) -> None:
        """Ask the gateway for a snapshot of symbol (answered on the reports topic)."""
        await self.send([{"type": "snapshot", "symbol": symbol}])

    async def send(self, requests: Iterable[dict[str, Any]]) -> None:
        """Send request maps: one as itself, several as batches of up to MAX_BATCH."""
        items = list(requests)
        if len(items) == 1:
            await self.mqtt.publish(self.orders_topic, encode(items[0]), qos=1)
            return
        for start in range(0, len(items), MAX_BATCH):
            chunk = items[start : start + MAX_BATCH]
            await self.mqtt.publish(
                self.orders_topic, encode({"type": "batch", "orders": chunk}), 1
            )

    async def place(self, id: str, symbol: str, side: str, qty: int, price: int | None = None,
                    order_type: str = "limit", tif: str = "day") -> None:  # fmt: skip
        """Send a new order (client order id `id`, side "buy" or "sell")."""
        await self.send([new_order(id, symbol, side, qty, price, order_type, tif)])

    async def cancel(self, id: str) -> None:
        """Cancel the live order with client order id `id`."""
        await self.send([{"type": "cancel", "id": id}])

    async def replace(self, id: str, price: int, qty: int) -> None:
        """Give the live order `id` a new price and open quantity."""
        await self.send([{"type": "replace", "id": id, "price": price, "qty": qty}])

    async def reports(self) -> AsyncIterator[dict[str, Any]]:
        """Yield report items (ack, reject, fill, cancelled, snapshot) as they arrive."""
        while True:
            yield await self._reports.get()

    def arrived_reports(self) -> list[dict[str, Any]]:
        """Return the report items that have arrived, without waiting."""
        items = []
        while not self._reports.empty():
            items.append(self._reports.get_nowait())
        return items

    async def next_report(self, timeout: float = 5.0) -> dict[str, Any]:
        """Return the next report item; raise TimeoutError after timeout seconds."""
        return await asyncio.wait_for(self._reports.get(), timeout)
