"""Reason codes of the matching core: why a command was rejected or an order removed.

Codes 1-99 reject a command (state unchanged); 100-199 explain a cancel, replace or expiry.
Codes from 200 on are left to the venue (exchange.reasons extends this registry).
"""

from __future__ import annotations

from enum import IntEnum


class Reason(IntEnum):
    """Reason code carried by REJECTED, CANCELLED, REPLACED and EXPIRED events."""

    NONE = 0
    UNKNOWN_COMMAND = 1
    UNKNOWN_BOOK = 2
    INVALID_SIDE = 3
    INVALID_ORDER_TYPE = 4
    INVALID_TIME_IN_FORCE = 5
    INVALID_ORDER_ID = 6
    INVALID_QUANTITY = 7
    OFF_TICK = 8
    PRICE_OUT_OF_BAND = 9
    PHASE_REJECTS_ORDER = 10
    DUPLICATE_ORDER_ID = 11
    UNKNOWN_ORDER = 12
    NOT_ORDER_OWNER = 13
    INVALID_PHASE = 14
    BOOK_CROSSED = 15
    MISSING_REFERENCE_PRICE = 16
    CANCELLED_BY_OWNER = 100
    IOC_REMAINDER = 101
    FOK_UNFILLED = 102
    SELF_TRADE = 103
    MARKET_NO_LIQUIDITY = 104
    MARKET_TO_LIMIT = 105
    SESSION_END = 106


REASON_TEXT: dict[int, str] = {
    Reason.NONE: "",
    Reason.UNKNOWN_COMMAND: "command kind is not NEW, CANCEL, REPLACE, UNCROSS, SET_PHASE or CLEAR",
    Reason.UNKNOWN_BOOK: "no book has this index",
    Reason.INVALID_SIDE: "side is not BUY (0) or SELL (1)",
    Reason.INVALID_ORDER_TYPE: "order type is not LIMIT (0) or MARKET (1)",
    Reason.INVALID_TIME_IN_FORCE: "time in force is not DAY (0), IOC (1) or FOK (2)",
    Reason.INVALID_ORDER_ID: "order id must be positive",
    Reason.INVALID_QUANTITY: "quantity must be 1 to 4,294,967,295 (MAX_QUANTITY)",
    Reason.OFF_TICK: "price is not a multiple of the book's tick",
    Reason.PRICE_OUT_OF_BAND: "price is outside the book's price band",
    Reason.PHASE_REJECTS_ORDER: "the book's phase does not accept this order or change",
    Reason.DUPLICATE_ORDER_ID: "an order with this id is live",
    Reason.UNKNOWN_ORDER: "no live order with this id in this book",
    Reason.NOT_ORDER_OWNER: "the order belongs to another owner",
    Reason.INVALID_PHASE: "phase is not CONTINUOUS (0), CALL (1) or HALTED (2)",
    Reason.BOOK_CROSSED: "the book is crossed: uncross it before continuous trading",
    Reason.MISSING_REFERENCE_PRICE: "the SZSE tie-break needs a reference price in (0, MAX_PRICE]",
    Reason.CANCELLED_BY_OWNER: "cancelled by its owner",
    Reason.IOC_REMAINDER: "immediate-or-cancel remainder cancelled",
    Reason.FOK_UNFILLED: "fill-or-kill order could not fill in full",
    Reason.SELF_TRADE: "would trade with an order of the same owner: incoming order cancelled",
    Reason.MARKET_NO_LIQUIDITY: "market order found nothing to trade within its protection price",
    Reason.MARKET_TO_LIMIT: "market order remainder rests as a limit order at its last fill price",
    Reason.SESSION_END: "expired at the end of the session",
}


def reason_text(code: int) -> str:
    """Return the text of a reason code, or a line naming an unknown code."""
    return REASON_TEXT.get(code, f"unknown reason code {code}")
