"""Reason codes of the venue (200 and up), merged with the matching core's into one registry.

Codes 1-199 belong to the matching core (matching_engine.reasons). The venue's codes reject a
command before the book sees it, or refuse an account operation; the state is unchanged after
every one of them. `reason_text` answers for every code of both layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, unique

from matching_engine import reasons as core

VENUE_FIRST_CODE = 200
MAX_CODE = 0xFFFF  # the event's reason field is a uint16


@unique
class VenueReason(IntEnum):
    """Why the venue refused a command or an account operation (no two names share a code)."""

    UNKNOWN_INSTRUMENT = 200
    UNKNOWN_PARTICIPANT = 201
    DUPLICATE_CLIENT_ORDER_ID = 202
    INVALID_CLIENT_ORDER_ID = 203
    MARKET_CLOSED = 210
    PHASE_REJECTS_ORDER_TYPE = 211
    PHASE_REJECTS_CANCEL = 212
    INSTRUMENT_HALTED = 213
    PRICE_ABOVE_LIMIT = 220
    PRICE_BELOW_LIMIT = 221
    PRICE_OUTSIDE_CAGE = 222
    OFF_TICK = 223
    INVALID_PRICE = 224
    PRICE_WRONG_SIDE_OF_CLOSE = 225
    QUANTITY_BELOW_MINIMUM = 230
    QUANTITY_NOT_IN_STEPS = 231
    QUANTITY_ABOVE_MAXIMUM = 232
    INVESTOR_NOT_ELIGIBLE = 240
    HOLDING_PERIOD_NOT_REACHED = 250
    SALE_WITHIN_ROUND_TRIP_DAYS = 251
    BUY_WITHIN_ROUND_TRIP_DAYS = 252
    HOLDER_CAP_REACHED = 253
    INSUFFICIENT_CASH = 260
    INSUFFICIENT_SHARES = 261
    UNKNOWN_RESERVATION = 262
    DUPLICATE_RESERVATION = 263
    FILL_EXCEEDS_RESERVATION = 264
    INVALID_AMOUNT = 265
    WRONG_SECURITY = 266
    INTENT_EXPIRED = 270
    NOT_THE_COUNTERPARTY = 271
    COUNTERPARTY_REQUIRED = 272
    QUANTITY_EXCEEDS_INTENT = 273
    OWN_INTENT = 274
    NOT_THE_POSTER = 275
    INVALID_EXPIRY = 276
    WRONG_MECHANISM = 277
    INVESTOR_TO_INVESTOR = 280
    MAKER_TO_MAKER = 281


VENUE_TEXT: dict[int, str] = {
    VenueReason.UNKNOWN_INSTRUMENT: "no instrument has this id",
    VenueReason.UNKNOWN_PARTICIPANT: "no participant has this id",
    VenueReason.DUPLICATE_CLIENT_ORDER_ID: "the participant has used this client order id",
    VenueReason.INVALID_CLIENT_ORDER_ID: "client order id must be 1 to 32 characters",
    VenueReason.MARKET_CLOSED: "no trading phase is open at this time",
    VenueReason.PHASE_REJECTS_ORDER_TYPE: "the current phase does not accept this order type",
    VenueReason.PHASE_REJECTS_CANCEL: "the current phase does not accept cancels",
    VenueReason.INSTRUMENT_HALTED: "the instrument is halted",
    VenueReason.PRICE_ABOVE_LIMIT: "price is above the day's upper price limit",
    VenueReason.PRICE_BELOW_LIMIT: "price is below the day's lower price limit",
    VenueReason.PRICE_OUTSIDE_CAGE: "limit price is outside the price cage around the benchmark",
    VenueReason.OFF_TICK: "price is not a multiple of the instrument class's tick",
    VenueReason.INVALID_PRICE: "price must be positive",
    VenueReason.PRICE_WRONG_SIDE_OF_CLOSE: "a fixed-price buy below the close or sale above it",
    VenueReason.QUANTITY_BELOW_MINIMUM: "quantity is below the minimum order size",
    VenueReason.QUANTITY_NOT_IN_STEPS: "quantity above the minimum is not a whole number of steps",
    VenueReason.QUANTITY_ABOVE_MAXIMUM: "quantity is above the maximum for this order type",
    VenueReason.INVESTOR_NOT_ELIGIBLE: "the participant does not meet the board's investor gate",
    VenueReason.HOLDING_PERIOD_NOT_REACHED: "the shares were acquired too recently (T+n)",
    VenueReason.SALE_WITHIN_ROUND_TRIP_DAYS: "a sale within the round-trip days of a buy",
    VenueReason.BUY_WITHIN_ROUND_TRIP_DAYS: "a buy within the round-trip days of a sale",
    VenueReason.HOLDER_CAP_REACHED: "the buyer would be one holder more than the holder cap",
    VenueReason.INSUFFICIENT_CASH: "not enough free cash",
    VenueReason.INSUFFICIENT_SHARES: "not enough free shares (no short selling)",
    VenueReason.UNKNOWN_RESERVATION: "no open reservation has this id",
    VenueReason.DUPLICATE_RESERVATION: "a reservation with this id is open",
    VenueReason.FILL_EXCEEDS_RESERVATION: "the fill needs more cash or shares than reserved",
    VenueReason.INVALID_AMOUNT: "amount or quantity must be positive",
    VenueReason.WRONG_SECURITY: "the reservations are for different securities or sides",
    VenueReason.INTENT_EXPIRED: "the intent expired before it was accepted or confirmed",
    VenueReason.NOT_THE_COUNTERPARTY: "the intent names another counterparty",
    VenueReason.COUNTERPARTY_REQUIRED: "the board is bilateral: an intent must name a counterparty",
    VenueReason.QUANTITY_EXCEEDS_INTENT: "the quantity is more than the intent has left",
    VenueReason.OWN_INTENT: "a participant may not accept its own intent",
    VenueReason.NOT_THE_POSTER: "only the intent's poster may confirm, decline or withdraw it",
    VenueReason.INVALID_EXPIRY: "an intent's expiry must be after its timestamp",
    VenueReason.WRONG_MECHANISM: "the instrument does not trade by this mechanism",
    VenueReason.INVESTOR_TO_INVESTOR: "investors trade only against maker quotes: IOC or FOK only",
    VenueReason.MAKER_TO_MAKER: "a market maker's order would trade with a maker's quote",
}


def merge_registries(core_text: Mapping[int, str], venue_text: Mapping[int, str]) -> dict[int, str]:
    """Return one code-to-text registry; raise ValueError if a code is outside its layer's range.

    The core owns 0..199 and the venue 200..65535, so the two can never collide.
    """
    for layer, text, low, high in (
        ("core", core_text, 0, VENUE_FIRST_CODE - 1),
        ("venue", venue_text, VENUE_FIRST_CODE, MAX_CODE),
    ):
        misplaced = sorted(c for c in text if not low <= c <= high)
        if misplaced:
            raise ValueError(f"{layer} codes {misplaced} are outside {low}..{high}")
    return {**core_text, **venue_text}


REASON_TEXT: dict[int, str] = merge_registries(core.REASON_TEXT, VENUE_TEXT)


def reason_name(code: int) -> str:
    """Return the enum name of a core or venue reason code ('UNKNOWN' for an unknown code)."""
    for enum in (core.Reason, VenueReason):
        if code in enum._value2member_map_:
            return enum(code).name
    return "UNKNOWN"


def reason_text(code: int) -> str:
    """Return the text of any reason code (core or venue), or a line naming an unknown code."""
    return REASON_TEXT.get(code, f"unknown reason code {code}")
