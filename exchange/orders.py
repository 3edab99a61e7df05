"""Build venue command rows (ORDER_DTYPE): readable constructors for clients, tests and tools,
and the edge's map from the wire's string client order ids to the venue's int64 ids."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from exchange.dtypes import ORDER_DTYPE, OrderCommand
from exchange.reasons import VenueReason
from matching_engine.dtypes import OrderType, Side, TimeInForce
from matching_engine.reasons import Reason

CLIENT_ORDER_ID_CHARACTERS = 32  # the wire's longest client order id


def is_client_order_id(value: object) -> bool:
    """Return whether value is a client order id: a string of 1 to CLIENT_ORDER_ID_CHARACTERS
    printable ASCII characters."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= CLIENT_ORDER_ID_CHARACTERS
        and value.isascii()
        and value.isprintable()
    )


class ClientOrderIds:
    """The wire's client order ids (1 to 32 printable ASCII characters, unique per participant)
    as the venue's int64 ids, for the gateway or a simulator at the edge of the Exchange.

    Each new string gets its participant's next id (1, 2, ...) and stays taken, whatever the
    venue answers; the journal records the int ids, so the edge keeps (or rebuilds) this map.
    """

    def __init__(self) -> None:
        """Start with no ids."""
        # per participant (each table a tenth the size, so no resize of one table of every
        # id stalls a batch): string -> id, and id -> string as a list (ids are 1, 2, ...)
        self._ids: defaultdict[int, dict[str, int]] = defaultdict(dict)
        self._texts: defaultdict[int, list[str]] = defaultdict(lambda: [""])

    def assign(self, participant: int, text: str) -> tuple[int, int]:
        """Return (reason, id) for a new order's client order id: (0, a fresh id > 0), or
        INVALID_CLIENT_ORDER_ID (empty, too long, not printable ASCII) or
        DUPLICATE_CLIENT_ORDER_ID (the participant used it before) with id 0."""
        if not is_client_order_id(text):
            return VenueReason.INVALID_CLIENT_ORDER_ID, 0
        ids = self._ids[participant]
        if text in ids:
            return VenueReason.DUPLICATE_CLIENT_ORDER_ID, 0
        texts = self._texts[participant]
        number = ids[text] = len(texts)
        texts.append(text)
        return 0, number

    def find(self, participant: int, text: str) -> tuple[int, int]:
        """Return (reason, id) of the order a cancel or replace names: (0, its id), or
        UNKNOWN_ORDER with id 0 for a string the participant never used."""
        number = self._ids[participant].get(text, 0)
        return (0, number) if number else (Reason.UNKNOWN_ORDER, 0)

    def text(self, participant: int, client_order_id: int) -> str:
        """Return the wire's string of a venue client order id ("" for none, e.g. book events)."""
        texts = self._texts.get(participant)
        return texts[client_order_id] if texts and 0 < client_order_id < len(texts) else ""


def order(
    participant: int,
    instrument: int,
    side: Side,
    price: int,
    quantity: int,
    client_order_id: int,
    timestamp: int,
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.DAY,
) -> np.ndarray:
    """Return a NEW row: a limit order, or a market order whose price is its protection price."""
    row = np.zeros((), ORDER_DTYPE)
    row[()] = (OrderCommand.NEW, side, order_type, tif, participant, instrument,
               client_order_id, price, quantity, timestamp)  # fmt: skip
    return row


def cancel(participant: int, client_order_id: int, timestamp: int) -> np.ndarray:
    """Return a CANCEL row for the participant's order with that client order id."""
    row = np.zeros((), ORDER_DTYPE)
    row["kind"] = OrderCommand.CANCEL
    row["participant"] = participant
    row["client_order_id"] = client_order_id
    row["timestamp"] = timestamp
    return row


def replace(
    participant: int, client_order_id: int, price: int, quantity: int, timestamp: int
) -> np.ndarray:
    """Return a REPLACE row: the order with that client order id gets price and open quantity."""
    row = cancel(participant, client_order_id, timestamp)
    row["kind"] = OrderCommand.REPLACE
    row["price"] = price
    row["quantity"] = quantity
    return row


def batch(*rows: np.ndarray) -> np.ndarray:
    """Return rows as one batch array."""
    return np.array([row[()] for row in rows], dtype=ORDER_DTYPE)
