"""The gateway's MQTT v5 connections: paho's client driven by the asyncio loop, a callback per
message instead of a queue, a task and a future.

aiomqtt (which the client SDK uses) runs paho the same way, but hands every received message
through an asyncio queue to a consumer coroutine and makes every publish a coroutine awaiting an
asyncio.Event: 72-84 us of the gateway's CPU per received QoS-1 message on the development
machine, against 21-37 us here (docs/performance.md, "Gateway"), and one order a message at
8,000/s cannot pay the former. Here, on paho's public loop API (loop_read, loop_write,
loop_misc and the socket callbacks):

- reading: the socket's reader callback runs loop_read until PER_TURN messages are read or no
  whole packet is left, and each PUBLISH goes straight to `on_message(topic, payload,
  properties)`; `pause()` stops reading (the broker and TCP hold the rest) until `resume()`;
- writing: paho queues its packets (its PUBACKs, our publishes) and asks once to write; the
  PUBACKs of a read go out at the end of that read, other packets at the end of the loop turn,
  corked (TCP_CORK) when there are several, so they leave in as few segments as they fill
  instead of one system call each carrying a segment through loopback; a full socket buffer
  waits for writability (add_writer);
- publishing: `publish(..., on_ack)` calls on_ack once the broker's PUBACK arrives;
- keepalive: loop_misc every second from a loop timer;
- a dropped connection sets `closed` (ConnectionLost); reconnecting is a new Connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.mqtt import NODELAY, share_property_tables

log = logging.getLogger("techboard.gateway")

PER_TURN = 32  # messages read from one connection in a loop turn: a flooding connection
# waits for the next turn while the others are read
KEEPALIVE_S = 60
CONNECT_TIMEOUT_S = 10.0
CORK = (socket.IPPROTO_TCP, socket.TCP_CORK)

MessageHandler = Callable[[str, bytes, Properties | None], None]


class ConnectionLost(Exception):
    """The broker refused the connection or it dropped."""


class Connection:
    """One MQTT v5 client connection of the gateway (see the module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str,
        password: str | None,
        client_id: str,
        on_message: MessageHandler | None = None,
        clean_start: bool = True,
        properties: Properties | None = None,
        will: tuple[str, bytes, int, bool] | None = None,
        max_inflight: int = 1000,
    ) -> None:
        """Prepare a connection (connect() opens it); will: (topic, payload, qos, retain)."""
        share_property_tables()
        self.host, self.port = host, port
        self.clean_start, self.properties = clean_start, properties
        self.on_message = on_message
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5)  # fmt: skip
        client.username_pw_set(username, password)
        client.max_inflight_messages_set(max_inflight)
        client.max_queued_messages_set(0)  # no limit: the gateway bounds what awaits a PUBACK
        if will is not None:
            client.will_set(*will)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        self.client = client
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed: asyncio.Future[None] | None = None
        self.connected: asyncio.Future[None] | None = None
        self.acks: dict[int, Callable[[], None] | None] = {}  # mid -> on_ack, awaiting PUBACK
        self.subscribed: dict[int, asyncio.Future[None]] = {}
        self.fd = -1
        self.reading = self.flushing = self.writer = False
        self.in_read = self.write_due = False  # in the reader callback; a write waits for its end
        self.messages = 0  # PUBLISH and PUBACK packets handled (tells a read turn it moved on)
        self.per_turn = PER_TURN  # messages read a loop turn (the gateway lowers it for a flood)
        self.misc: asyncio.TimerHandle | None = None

    # opening and closing ------------------------------------------------------------

    async def connect(self) -> None:
        """Open the connection and wait for the broker's CONNACK; raise ConnectionLost."""
        loop = self.loop = asyncio.get_running_loop()
        self.closed, self.connected = loop.create_future(), loop.create_future()
        try:  # paho connects (and sends CONNECT) blocking: in a thread, before any callback
            # of ours is set, so nothing runs on the loop from there
            await loop.run_in_executor(
                None, lambda: self.client.connect(
                    self.host, self.port, KEEPALIVE_S, clean_start=self.clean_start,
                    properties=self.properties,
                ),
            )  # fmt: skip
        except OSError as error:
            raise ConnectionLost(f"cannot connect to {self.host}:{self.port}: {error}") from error
        sock = self.client.socket()
        if sock is None:
            raise ConnectionLost(f"cannot connect to {self.host}:{self.port}")
        sock.setsockopt(*NODELAY)
        self.fd = sock.fileno()
        self.client.on_socket_close = self._on_socket_close
        self.client.on_socket_register_write = self._on_register_write
        self.client.on_socket_unregister_write = None
        self.resume()
        self.misc = loop.call_later(1.0, self._misc)
        try:
            await asyncio.wait_for(asyncio.shield(self.connected), CONNECT_TIMEOUT_S)
        except TimeoutError:
            self.abort()
            raise ConnectionLost(f"no CONNACK from {self.host}:{self.port}") from None

    async def disconnect(self) -> None:
        """Send DISCONNECT (the broker then drops the last will) and close."""
        if self.fd >= 0:
            self.client.disconnect()
            self._flush()
        self.abort()

    def abort(self) -> None:
        """Close the socket without DISCONNECT (the broker publishes the last will)."""
        if self.misc is not None:
            self.misc.cancel()
        sock = self.client.socket()
        if sock is not None:
            self._on_socket_close(self.client, None, sock)
            sock.close()
        self._lost("closed")

    async def wait_closed(self) -> None:
        """Wait until the connection drops (raise ConnectionLost) or closes."""
        assert self.closed is not None
        await asyncio.shield(self.closed)

    def _lost(self, reason: str) -> None:
        for future in (self.connected, self.closed, *self.subscribed.values()):
            if future is not None and not future.done():
                future.set_exception(ConnectionLost(reason))
                future.exception()  # retrieved: whoever awaits it still gets the exception

    # reading -------------------------------------------------------------------------

    def pause(self) -> None:
        """Stop reading until resume()."""
        if self.reading and self.loop is not None:
            self.loop.remove_reader(self.fd)
            self.reading = False

    def resume(self) -> None:
        """Read again."""
        if not self.reading and self.fd >= 0 and self.loop is not None:
            self.loop.add_reader(self.fd, self._read)
            self.reading = True

    def _read(self) -> None:
        client = self.client
        self.in_read, start = True, self.messages
        try:
            read = 0
            while read < self.per_turn:  # per_turn may drop while reading (a flood detected)
                before = self.messages
                if client.loop_read() or self.messages == before or not self.reading:
                    break
                read += 1
            self.in_read = False
            if self.write_due:  # the PUBACKs of what was read: now, corked if several
                self.write_due = False
                self._write(self.messages - start > 1)
        except Exception as error:  # a handler's bug or a socket error: the connection ends
            log.exception("reading from the broker failed")
            self.abort()
            self._lost(f"reading failed: {error}")
        finally:
            self.in_read = False

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: Any) -> None:
        self.messages += 1
        if self.on_message is not None:
            self.on_message(message.topic, message.payload, message.properties)

    # writing -------------------------------------------------------------------------

    def _on_register_write(self, _client: mqtt.Client, _userdata: Any, _sock: Any) -> None:
        if self.in_read:
            self.write_due = True  # written at the end of the read
        elif not self.flushing and self.loop is not None:
            self.flushing = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self.flushing = False
        self._write(True)

    def _write(self, cork: bool) -> None:
        """Write what paho has queued; cork: into as few segments as it fills."""
        client = self.client
        sock = client.socket()
        cork = cork and sock is not None
        try:
            if cork:
                sock.setsockopt(*CORK, 1)  # type: ignore[union-attr]
            client.loop_write()
        finally:
            if cork and sock.fileno() >= 0:  # type: ignore[union-attr]
                sock.setsockopt(*CORK, 0)  # type: ignore[union-attr]
        wants = client.want_write() and self.fd >= 0 and self.loop is not None
        if wants and not self.writer:
            self.loop.add_writer(self.fd, self._flush)  # type: ignore[union-attr]
            self.writer = True
        elif not wants and self.writer:
            self.loop.remove_writer(self.fd)  # type: ignore[union-attr]
            self.writer = False

    def _on_socket_close(self, _client: mqtt.Client, _userdata: Any, _sock: Any) -> None:
        if self.fd >= 0 and self.loop is not None:
            self.loop.remove_reader(self.fd)
            self.loop.remove_writer(self.fd)
        self.fd, self.reading, self.writer = -1, False, False

    def _misc(self) -> None:
        if self.client.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS and self.loop is not None:
            self.misc = self.loop.call_later(1.0, self._misc)

    # MQTT ----------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
        on_ack: Callable[[], None] | None = None,
    ) -> bool:
        """Publish; on_ack is called when the broker acknowledges it (QoS 1). Return False when
        the connection is down (nothing sent, on_ack never called)."""
        if self.fd < 0:
            return False
        info = self.client.publish(topic, payload, qos, retain, properties)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_QUEUE_SIZE):
            return False
        if qos:
            self.acks[info.mid] = on_ack
        elif on_ack is not None:
            on_ack()
        return True

    async def publish_acknowledged(self, topic: str, payload: bytes, retain: bool = False,
                                   properties: Properties | None = None) -> None:  # fmt: skip
        """Publish with QoS 1 and wait for the PUBACK; raise ConnectionLost."""
        assert self.loop is not None and self.closed is not None
        done = self.loop.create_future()
        if not self.publish(topic, payload, 1, retain, properties, lambda: done.set_result(None)):
            raise ConnectionLost(f"publish to {topic}: not connected")
        await asyncio.wait([done, self.closed], return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            raise ConnectionLost(f"publish to {topic}: the connection dropped")

    @property
    def unacknowledged(self) -> int:
        """Return the number of QoS 1 publishes awaiting their PUBACK."""
        return len(self.acks)

    async def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe and wait for the SUBACK; raise ConnectionLost."""
        assert self.loop is not None
        rc, mid = self.client.subscribe(topic, qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise ConnectionLost(f"subscribe to {topic}: {mqtt.error_string(rc)}")
        future = self.subscribed[mid] = self.loop.create_future()
        try:
            await future
        finally:
            self.subscribed.pop(mid, None)

    def _on_connect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any,
                    _properties: Any) -> None:  # fmt: skip
        if self.connected is None or self.connected.done():
            return
        if reason.is_failure:
            self.connected.set_exception(ConnectionLost(f"the broker refused: {reason}"))
        else:
            self.connected.set_result(None)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any,
                       _properties: Any) -> None:  # fmt: skip
        self._lost(f"disconnected: {reason}")

    def _on_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, reason: Any,
                    _properties: Any) -> None:  # fmt: skip
        self.messages += 1
        on_ack = self.acks.pop(mid, None)
        if reason.is_failure:
            log.warning("the broker refused a publish: %s", reason)
        if on_ack is not None:
            on_ack()

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int, reasons: Any,
                      _properties: Any) -> None:  # fmt: skip
        future = self.subscribed.get(mid)
        if future is None or future.done():
            return
        refused = [r for r in reasons if r.is_failure]
        if refused:
            future.set_exception(ConnectionLost(f"subscription refused: {refused[0]}"))
        else:
            future.set_result(None)


def connect_properties(session_expiry_s: int) -> Properties:
    """Return MQTT v5 CONNECT properties with a session expiry interval (0: none)."""
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = session_expiry_s
    return properties
