"""Build venue command rows (ORDER_DTYPE): readable constructors for clients, tests and tools."""

from __future__ import annotations

import numpy as np

from exchange.dtypes import ORDER_DTYPE, OrderCommand
from matching_engine.dtypes import OrderType, Side, TimeInForce


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
