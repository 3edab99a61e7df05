"""Build command rows: readable constructors for tests, tools and the venue."""

from __future__ import annotations

import numpy as np

from matching_engine.dtypes import (
    COMMAND_DTYPE,
    CommandKind,
    OrderType,
    Phase,
    Side,
    TimeInForce,
)


def command(kind: CommandKind, **fields: int) -> np.ndarray:
    """Return one command row (a 0-d record array) with the given fields, the rest 0."""
    row = np.zeros((), dtype=COMMAND_DTYPE)
    row["kind"] = kind
    for name, value in fields.items():
        row[name] = value
    return row


def new(
    order_id: int,
    side: Side,
    price: int,
    quantity: int,
    *,
    owner: int = 1,
    book: int = 0,
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.DAY,
    timestamp: int = 0,
) -> np.ndarray:
    """Return a NEW command: a limit order, or a market order whose price is its protection."""
    return command(
        CommandKind.NEW,
        order_id=order_id,
        side=side,
        price=price,
        quantity=quantity,
        owner=owner,
        book=book,
        order_type=order_type,
        tif=tif,
        timestamp=timestamp,
    )


def cancel(order_id: int, *, owner: int = 1, book: int = 0, timestamp: int = 0) -> np.ndarray:
    """Return a CANCEL command for a live order."""
    return command(
        CommandKind.CANCEL, order_id=order_id, owner=owner, book=book, timestamp=timestamp
    )


def replace(
    order_id: int, price: int, quantity: int, *, owner: int = 1, book: int = 0, timestamp: int = 0
) -> np.ndarray:
    """Return a REPLACE command: new price and new open quantity of a live order."""
    return command(
        CommandKind.REPLACE,
        order_id=order_id,
        price=price,
        quantity=quantity,
        owner=owner,
        book=book,
        timestamp=timestamp,
    )


def uncross(
    *, book: int = 0, then: Phase = Phase.CONTINUOUS, reference: int = 0, timestamp: int = 0
) -> np.ndarray:
    """Return an UNCROSS command: run the book's call auction, then switch to phase `then`."""
    return command(CommandKind.UNCROSS, book=book, phase=then, price=reference, timestamp=timestamp)


def set_phase(phase: Phase, *, book: int = 0, timestamp: int = 0) -> np.ndarray:
    """Return a SET_PHASE command."""
    return command(CommandKind.SET_PHASE, book=book, phase=phase, timestamp=timestamp)


def clear(*, book: int = 0, timestamp: int = 0) -> np.ndarray:
    """Return a CLEAR command: expire every resting order of the book."""
    return command(CommandKind.CLEAR, book=book, timestamp=timestamp)


def batch(*rows: np.ndarray) -> np.ndarray:
    """Return the command rows as one batch array."""
    return np.array([row[()] if row.ndim == 0 else row for row in rows], dtype=COMMAND_DTYPE)
