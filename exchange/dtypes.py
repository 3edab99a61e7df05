"""Layouts of the Exchange API: venue commands in, venue events, fee items and market data out.

A batch submitted to `Exchange.submit` is one numpy array of ORDER_DTYPE. The answer is one
array of VENUE_EVENT_DTYPE: the matching core's event fields (matching_engine.dtypes) plus the
client order ids and the fees of a fill; venue rejects are REJECTED events with a venue reason
(exchange.reasons, one registry with the core's). Each fill's fees, itemised, are FEE_DTYPE rows;
market data are MD_DTYPE rows with a sequence number per instrument. Units: prices in price units
(1/10000 CNY), quantities in shares (bonds), cash and fees in 1/10000 CNY, times in ns UTC.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from matching_engine.dtypes import EVENT_DTYPE


class OrderCommand(IntEnum):
    """What a venue command row asks."""

    NEW = 1  # enter an order: every venue check, then the book
    CANCEL = 2  # cancel the participant's live order named by client_order_id
    # give the live order named by client_order_id a new price and open quantity, checked as a
    # new limit order (its holds count as free); priority kept only for quantity down
    REPLACE = 3


FIXED_PRICE = 2  # ORDER_DTYPE order_type beyond OrderType: after-hours fixed price at the close


class VenueEventKind(IntEnum):
    """Event kinds beyond the core's EventKind (1-8)."""

    # NEW accepted by the venue and held until the book opens (pre_open), or a FIXED_PRICE
    # order held until it trades at the close (after-hours)
    QUEUED = 9


class MarketDataKind(IntEnum):
    """What a market-data row reports."""

    LEVEL = 1  # level-2 delta: the level (side, price) now holds quantity in `orders` orders
    TRADE = 2  # trade print: price, quantity, side of the aggressor (buy in an uncross)
    AUCTION = 3  # call-auction result: price (0: no cross), quantity = volume, orders = imbalance
    PHASE = 4  # the book changed phase to `side` (matching_engine.dtypes.Phase)
    INDICATIVE = 5  # call phase: indicative price and volume (orders = imbalance), end of batch
    FIXED_TRADE = 6  # after-hours fixed-price trade at the close (not in the day's statistics)


ORDER_DTYPE = np.dtype(
    [
        ("kind", np.uint8),  # OrderCommand
        ("side", np.uint8),  # matching_engine.dtypes.Side
        ("order_type", np.uint8),  # OrderType (LIMIT, MARKET) or FIXED_PRICE
        ("tif", np.uint8),  # matching_engine.dtypes.TimeInForce
        ("participant", np.int32),  # participant id, 0 <= id < number of participants
        ("instrument", np.int32),  # instrument index (Exchange.symbols)
        ("client_order_id", np.int64),  # > 0, unique per participant; CANCEL, REPLACE: the order's
        ("price", np.int64),  # limit price, or a market order's protection price; REPLACE: new
        ("quantity", np.int64),  # shares (bonds); REPLACE: the new open quantity
        ("timestamp", np.int64),  # ns UTC; non-decreasing within and across batches
    ]
)

VENUE_EVENT_DTYPE = np.dtype(
    [
        *((name, EVENT_DTYPE.fields[name][0]) for name in EVENT_DTYPE.names),
        # book = instrument index, owner = participant id, order_id = the exchange's order id
        ("client_order_id", np.int64),  # client order id of order_id (0 for book events)
        ("contra_client_order_id", np.int64),  # client order id of contra_order_id (TRADE)
        ("fee", np.int64),  # TRADE: fees the owner paid on this fill (rebates negative)
        ("contra_fee", np.int64),  # TRADE: fees the contra owner paid on this fill
    ]
)

FEE_DTYPE = np.dtype(
    [
        ("event", np.int64),  # index of the TRADE event in the batch's events
        ("participant", np.int32),  # who paid
        ("component", np.int16),  # index into Exchange.fee_components
        ("payee", np.int16),  # index into Exchange.payees
        ("amount", np.int64),  # 1/10000 CNY, rebates negative
    ]
)

MD_DTYPE = np.dtype(
    [
        ("kind", np.uint8),  # MarketDataKind
        ("side", np.uint8),  # Side (LEVEL, TRADE); Phase (PHASE)
        ("instrument", np.int32),  # instrument index
        ("seq", np.int64),  # per-instrument sequence number, from 1, no gaps
        ("price", np.int64),  # level, trade, auction or indicative price
        ("quantity", np.int64),  # level quantity after the change; traded or auction volume
        ("orders", np.int64),  # orders at the level (LEVEL); imbalance (AUCTION, INDICATIVE)
        ("timestamp", np.int64),  # ns UTC of the causing command
    ]
)
