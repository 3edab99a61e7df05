"""The gateway's wire protocol: topics, message layouts, strict decoding and reject codes.

Payloads are msgpack maps with a `type` and the protocol version `v` (1); a payload whose MQTT
v5 content type is `application/json` is read as JSON instead, so a person can type an order
with mosquitto_pub. Decoding never raises: every payload becomes requests (NewOrder, Cancel,
Replace, SnapshotRequest, Bye) or Rejections with a reason code (WireReason, or a venue code of
exchange.reasons) and text. A `batch` (a mass quote) carries up to MAX_BATCH requests, each
checked and answered on its own. Units as everywhere: prices in price units (1/10000 CNY),
quantities in shares (bonds). docs/protocol.md documents every message with an example.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import IntEnum, unique
from typing import Any

import msgpack

from exchange.orders import CLIENT_ORDER_ID_CHARACTERS, is_client_order_id
from exchange.reasons import VenueReason, reason_name, reason_text
from matching_engine.dtypes import OrderType, Side, TimeInForce

VERSION = 1
PREFIX = "techboard/v1"
ORDERS_TOPIC = PREFIX + "/participants/{participant}/orders"
REPORTS_TOPIC = PREFIX + "/participants/{participant}/reports"
ORDERS_SUBSCRIPTION = PREFIX + "/participants/+/orders"
BOOK_TOPIC = PREFIX + "/md/{symbol}/book"
TRADES_TOPIC = PREFIX + "/md/{symbol}/trades"
STATUS_TOPIC = PREFIX + "/md/{symbol}/status"
REFERENCE_TOPIC = PREFIX + "/ref/instruments"
GATEWAY_TOPIC = PREFIX + "/gateway/status"
JSON_CONTENT_TYPE = "application/json"

MAX_BATCH = 1000  # requests in one `batch` message
MAX_MESSAGE_BYTES = 256 * 1024  # default payload limit (a gateway setting may lower it)
MAX_PRICE = 10**12  # price units (CNY 100,000,000): anything above is refused
MAX_QUANTITY = 10**12  # shares (bonds)
MAX_SYMBOL = 32  # characters of a symbol

SIDES = {"buy": Side.BUY, "sell": Side.SELL}
ORDER_TYPES = {"limit": OrderType.LIMIT, "market": OrderType.MARKET, "fixed_price": 2}
TIMES_IN_FORCE = {"day": TimeInForce.DAY, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK}


@unique
class WireReason(IntEnum):
    """Why the gateway refused a message before the venue saw it (codes 900-999)."""

    MALFORMED = 900  # not msgpack (JSON), or not a map
    OVERSIZED = 901  # payload longer than the gateway's message size limit
    UNKNOWN_TYPE = 902  # `type` is not a request the gateway takes
    MISSING_FIELD = 903  # a required field is absent
    WRONG_FIELD_TYPE = 904  # a field has the wrong type (a string, float or NaN for an integer)
    UNKNOWN_FIELD = 905  # a field the message type does not have
    OUT_OF_RANGE = 906  # a number out of range: zero or negative quantity, huge price
    UNSUPPORTED_VERSION = 907  # `v` is not 1
    INVALID_VALUE = 908  # a side, order type, time in force or symbol not in its list
    BATCH_TOO_LARGE = 909  # a batch with no requests or more than MAX_BATCH
    RATE_LIMITED = 910  # the participant exceeded its orders-per-second allowance
    OVERLOADED = 911  # the gateway's queue is full: resend later


WIRE_TEXT: dict[int, str] = {
    WireReason.MALFORMED: "payload is not a msgpack (or JSON) map",
    WireReason.OVERSIZED: "payload is longer than the gateway's message size limit",
    WireReason.UNKNOWN_TYPE: "type is not new, cancel, replace, batch, snapshot or bye",
    WireReason.MISSING_FIELD: "a required field is missing",
    WireReason.WRONG_FIELD_TYPE: "a field has the wrong type",
    WireReason.UNKNOWN_FIELD: "the message has a field its type does not define",
    WireReason.OUT_OF_RANGE: "a number is out of range",
    WireReason.UNSUPPORTED_VERSION: "protocol version v must be 1",
    WireReason.INVALID_VALUE: "a field's value is not one of those allowed",
    WireReason.BATCH_TOO_LARGE: f"a batch holds 1 to {MAX_BATCH} requests",
    WireReason.RATE_LIMITED: "the participant sends orders faster than its allowance",
    WireReason.OVERLOADED: "the gateway is overloaded: resend later",
}


def code_name(code: int) -> str:
    """Return the name of a wire, venue or core reason code."""
    return WireReason(code).name if code in WIRE_TEXT else reason_name(code)


def code_text(code: int) -> str:
    """Return the text of a wire, venue or core reason code."""
    return WIRE_TEXT.get(code) or reason_text(code)


# Requests and rejections: slotted dataclasses, not frozen (a frozen one takes 1.5 us to make
# here, this 0.3 us, and the gateway makes one an order); nothing changes them once made.


@dataclass(slots=True)
class NewOrder:
    """A new order: client order id, symbol, side, limit (protection) price, quantity."""

    id: str
    symbol: str
    side: int
    price: int
    quantity: int
    order_type: int = OrderType.LIMIT
    tif: int = TimeInForce.DAY


@dataclass(slots=True)
class Cancel:
    """Cancel the participant's live order with this client order id."""

    id: str


@dataclass(slots=True)
class Replace:
    """Give the live order with this client order id a new price and open quantity."""

    id: str
    price: int
    quantity: int


@dataclass(slots=True)
class SnapshotRequest:
    """Ask for a level-2 snapshot of a symbol (answered on the participant's reports topic)."""

    symbol: str


@dataclass(slots=True)
class Bye:
    """The participant leaves (also its last will): cancel-on-disconnect applies."""


@dataclass(slots=True)
class Rejection:
    """A refused message or batch item: reason code, text, and the client order id if known."""

    code: int
    text: str
    id: str = ""


Request = NewOrder | Cancel | Replace | SnapshotRequest | Bye

# field name -> (required, kind); kind "id", "symbol", "price", "quantity" or an enum table
FIELDS: dict[str, dict[str, tuple[bool, Any]]] = {
    "new": {
        "id": (True, "id"),
        "symbol": (True, "symbol"),
        "side": (True, SIDES),
        "price": (False, "price"),
        "qty": (True, "quantity"),
        "order_type": (False, ORDER_TYPES),
        "tif": (False, TIMES_IN_FORCE),
    },
    "cancel": {"id": (True, "id")},
    "replace": {"id": (True, "id"), "price": (True, "price"), "qty": (True, "quantity")},
    "snapshot": {"symbol": (True, "symbol")},
    "bye": {},
}
ENVELOPE = {"v", "type"}
_SIDE_NUMBERS = {name: int(side) for name, side in SIDES.items()}


class _Refused(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


def decode(payload: bytes, content_type: str | None = None) -> list[Request | Rejection]:
    """Return the requests of one message, or Rejections for what is wrong; never raise."""
    try:
        if content_type == JSON_CONTENT_TYPE:
            body = json.loads(payload.decode("utf-8"))
        else:
            body = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as error:  # any decoder failure is the sender's: a MALFORMED reject
        return [Rejection(WireReason.MALFORMED, f"cannot decode the payload: {error}"[:200])]
    if not isinstance(body, dict):
        return [Rejection(WireReason.MALFORMED, f"payload is a {type(body).__name__}, not a map")]
    try:
        version = body.get("v")
        if type(version) is not int or version != VERSION:
            raise _Refused(WireReason.UNSUPPORTED_VERSION, f"v is {_show(version)}, expected 1")
        kind = body.get("type")
        if kind == "batch":
            return _batch(body)
        return [_request(body, ENVELOPE)]
    except _Refused as refused:
        return [Rejection(refused.code, refused.text, _client_id(body))]


def _batch(body: dict[Any, Any]) -> list[Request | Rejection]:
    extra = set(body) - ENVELOPE - {"orders"}
    if extra:
        raise _Refused(WireReason.UNKNOWN_FIELD, f"batch has unknown fields {_names(extra)}")
    items = body.get("orders")
    if not isinstance(items, list):
        raise _Refused(WireReason.WRONG_FIELD_TYPE, "batch orders must be a list of maps")
    if not 0 < len(items) <= MAX_BATCH:
        raise _Refused(WireReason.BATCH_TOO_LARGE, f"batch of {len(items)} requests")
    out: list[Request | Rejection] = []
    for item in items:
        # the common item, a limit day order with every field right, in one step; any other
        # (or anything wrong) through the field table below, which names what is wrong
        if type(item) is dict and len(item) == 6 and item.get("type") == "new":
            get = item.get
            cid, symbol, side, price, qty = (
                get("id"),
                get("symbol"),
                get("side"),
                get("price"),
                get("qty"),
            )
            if (
                is_client_order_id(cid)
                and type(symbol) is str
                and 0 < len(symbol) <= MAX_SYMBOL
                and type(side) is str
                and side in _SIDE_NUMBERS
                and type(price) is int
                and 0 < price <= MAX_PRICE
                and type(qty) is int
                and 0 < qty <= MAX_QUANTITY
            ):
                out.append(NewOrder(cid, symbol, _SIDE_NUMBERS[side], price, qty))
                continue
        if not isinstance(item, dict):
            out.append(Rejection(WireReason.MALFORMED, "a batch item is not a map"))
            continue
        try:
            if item.get("type") not in ("new", "cancel", "replace"):
                raise _Refused(WireReason.UNKNOWN_TYPE, "a batch holds new, cancel and replace")
            out.append(_request(item, {"type"}))
        except _Refused as refused:
            out.append(Rejection(refused.code, refused.text, _client_id(item)))
    return out


def _request(body: dict[Any, Any], envelope: set[str]) -> Request:
    kind = body.get("type")
    fields = FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise _Refused(WireReason.UNKNOWN_TYPE, f"unknown type {_show(kind)}")
    extra = set(body) - envelope - set(fields)
    if extra:
        raise _Refused(WireReason.UNKNOWN_FIELD, f"{kind} has unknown fields {_names(extra)}")
    values = {}
    for name, (required, check) in fields.items():
        if name not in body:
            if required:
                raise _Refused(WireReason.MISSING_FIELD, f"{kind} needs the field {name!r}")
            continue
        values[name] = _field(name, body[name], check)
    if kind == "new":
        order_type = values.get("order_type", OrderType.LIMIT)
        if "price" not in values and order_type != OrderType.MARKET:
            raise _Refused(WireReason.MISSING_FIELD, "a limit order needs the field 'price'")
        return NewOrder(
            values["id"],
            values["symbol"],
            values["side"],
            values.get("price", 0),
            values["qty"],
            order_type,
            values.get("tif", TimeInForce.DAY),
        )
    if kind == "cancel":
        return Cancel(values["id"])
    if kind == "replace":
        return Replace(values["id"], values["price"], values["qty"])
    if kind == "snapshot":
        return SnapshotRequest(values["symbol"])
    return Bye()


def _field(name: str, value: Any, check: Any) -> Any:
    if isinstance(check, dict):
        if not isinstance(value, str) or value not in check:
            allowed = ", ".join(check)
            raise _Refused(WireReason.INVALID_VALUE, f"{name} is {_show(value)}: one of {allowed}")
        return int(check[value])
    if check in ("id", "symbol"):
        if not isinstance(value, str):
            raise _Refused(WireReason.WRONG_FIELD_TYPE, f"{name} must be a string")
        if check == "id":
            if not is_client_order_id(value):
                raise _Refused(
                    VenueReason.INVALID_CLIENT_ORDER_ID,
                    f"id must be 1 to {CLIENT_ORDER_ID_CHARACTERS} printable ASCII characters",
                )
        elif not 0 < len(value) <= MAX_SYMBOL:
            raise _Refused(WireReason.INVALID_VALUE, f"symbol must be 1 to {MAX_SYMBOL} characters")
        return value
    if type(value) is not int:  # bool, float (NaN, inf), str: not an integer
        raise _Refused(
            WireReason.WRONG_FIELD_TYPE, f"{name} must be an integer, not {_show(value)}"
        )
    top = MAX_PRICE if check == "price" else MAX_QUANTITY
    if not 0 < value <= top:
        raise _Refused(WireReason.OUT_OF_RANGE, f"{name} {_show(value)} is not in 1..{top}")
    return value


def _client_id(body: Any) -> str:
    """Return the message's client order id for the reject, when it is a valid one."""
    value = body.get("id") if isinstance(body, dict) else None
    return value if is_client_order_id(value) else ""


def _show(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _names(names: set[Any]) -> str:
    return _show(sorted(map(str, names)))


def encode(message: dict[str, Any], as_json: bool = False) -> bytes:
    """Return a message (a map with `type`) as a payload: msgpack, or JSON when as_json."""
    body = {"v": VERSION, **message}
    if as_json:
        return json.dumps(body, separators=(",", ":")).encode()
    return msgpack.packb(body, use_bin_type=True)


def read(payload: bytes) -> dict[str, Any]:
    """Return a gateway message (msgpack or JSON) as a map (SDK side; raises on garbage)."""
    if payload[:1] == b"{":
        return json.loads(payload)
    return msgpack.unpackb(payload, raw=False)


def new_order(
    id: str,
    symbol: str,
    side: str,
    qty: int,
    price: int | None = None,
    order_type: str = "limit",
    tif: str = "day",
) -> dict[str, Any]:
    """Return a `new` request map (sides "buy"/"sell", types limit/market/fixed_price)."""
    body: dict[str, Any] = {"type": "new", "id": id, "symbol": symbol, "side": side, "qty": qty}
    if price is not None:
        body["price"] = price
    if order_type != "limit":
        body["order_type"] = order_type
    if tif != "day":
        body["tif"] = tif
    return body


def rejection_report(rejection: Rejection) -> dict[str, Any]:
    """Return the `reject` report of a refused message or item."""
    return {
        "type": "reject",
        "id": rejection.id,
        "code": int(rejection.code),
        "reason": code_name(rejection.code),
        "text": rejection.text,
    }
