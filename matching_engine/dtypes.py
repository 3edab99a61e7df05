"""Command and event layouts of the matching core, and the enums their fields take.

Every price is an int64 in price units (1/10000 CNY), every quantity an int64 count of shares
(or bonds), every time an int64 of nanoseconds since the Unix epoch (UTC). A batch of commands
is one numpy array of COMMAND_DTYPE; the core answers with one array of EVENT_DTYPE.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np


class CommandKind(IntEnum):
    """What a command row asks the core to do."""

    NEW = 1  # enter an order
    CANCEL = 2  # cancel a live order (order_id, owner must match)
    REPLACE = 3  # change a live order's price and/or open quantity
    UNCROSS = 4  # run the call auction of a book, then switch to `phase`
    SET_PHASE = 5  # switch a book to `phase`
    CLEAR = 6  # expire every resting order of a book (end of session)


class Side(IntEnum):
    """Order side."""

    BUY = 0
    SELL = 1


class OrderType(IntEnum):
    """Order type: a limit price, or a market order bounded by a protection price."""

    LIMIT = 0
    MARKET = 1


class TimeInForce(IntEnum):
    """How long an order's open quantity may stay."""

    DAY = 0  # rests until filled, cancelled or cleared; MARKET+DAY: remainder rests at last fill
    IOC = 1  # immediate or cancel: what does not fill at once is cancelled
    FOK = 2  # fill or kill: fills in full at once or not at all


class Phase(IntEnum):
    """Trading phase of one book."""

    CONTINUOUS = 0  # incoming orders match at once in price-time priority
    CALL = 1  # call auction: limit DAY orders collect without matching until UNCROSS
    HALTED = 2  # no new orders or replaces; cancels only


class TieBreak(IntEnum):
    """Call-auction tie-break left after maximum volume and minimum imbalance."""

    SSE = 0  # midpoint of the tied prices, rounded half-up to the tick
    SZSE = 1  # tied price nearest the reference price (the UNCROSS command's price); lower on a tie


class EventKind(IntEnum):
    """What an event row reports."""

    ACCEPTED = 1  # NEW validated: quantity = order quantity, price = limit or protection price
    REJECTED = 2  # command refused, state unchanged: reason says why; fields echo the command
    TRADE = 3  # one fill between order_id (aggressor; the buy in an uncross) and contra_order_id
    CANCELLED = 4  # open quantity removed: quantity = amount removed, reason says why
    REPLACED = 5  # order now has price and open quantity `leaves` (also a MARKET remainder resting)
    EXPIRED = 6  # removed by CLEAR: quantity = amount removed
    UNCROSSED = 7  # auction result: price (0: no cross), quantity = volume, leaves = imbalance
    PHASE = 8  # book changed phase to `phase`


COMMAND_DTYPE = np.dtype(
    [
        ("kind", np.uint8),  # CommandKind
        ("side", np.uint8),  # Side (NEW)
        ("order_type", np.uint8),  # OrderType (NEW)
        ("tif", np.uint8),  # TimeInForce (NEW)
        ("phase", np.uint8),  # Phase to switch to (UNCROSS, SET_PHASE)
        ("book", np.int32),  # book index, 0 <= book < number of books
        ("owner", np.int32),  # participant id; orders of one owner never trade with each other
        ("order_id", np.int64),  # > 0, unique among live orders (NEW, CANCEL, REPLACE)
        ("price", np.int64),  # limit or protection price; new price (REPLACE); reference (UNCROSS)
        ("quantity", np.int64),  # > 0: order quantity (NEW); new open quantity (REPLACE)
        ("timestamp", np.int64),  # ns since epoch UTC; copied to the command's events
    ]
)

EVENT_DTYPE = np.dtype(
    [
        ("kind", np.uint8),  # EventKind
        ("side", np.uint8),  # side of order_id
        ("phase", np.uint8),  # book phase after the event (PHASE, UNCROSSED)
        ("reason", np.uint16),  # Reason code (REJECTED, CANCELLED, REPLACED, EXPIRED); 0 otherwise
        ("book", np.int32),  # book index
        ("owner", np.int32),  # owner of order_id
        ("contra_owner", np.int32),  # owner of contra_order_id (TRADE), else 0
        ("command", np.int64),  # index of the command in its batch that caused the event
        ("order_id", np.int64),  # the order the event is about
        ("contra_order_id", np.int64),  # the resting order (TRADE; the sell in an uncross), else 0
        ("price", np.int64),  # trade price; order price; auction price
        ("quantity", np.int64),  # traded, accepted, removed or auction quantity
        ("leaves", np.int64),  # open quantity of order_id after the event; auction imbalance
        ("contra_leaves", np.int64),  # open quantity of contra_order_id after a TRADE
        ("timestamp", np.int64),  # timestamp of the causing command
    ]
)


def copied(rows: np.ndarray) -> np.ndarray:
    """Return a writable copy of structured rows: numpy copies a packed structured array field
    by field (3-5 us for a few rows); through bytes is several times faster."""
    return np.frombuffer(bytearray(rows.tobytes()), rows.dtype)


def zeroed(shape: int | tuple[int, ...], dtype: Any) -> np.ndarray:
    """Return zeros with every page written now: np.zeros maps pages that fault (a large
    array's as huge pages, zeroed then) on their first write, which is inside a later batch."""
    array = np.empty(shape, dtype)
    array.fill(0)
    return array
