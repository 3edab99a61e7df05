"""The wire's string client order ids mapped to the venue's int64 ids at the edge."""

from __future__ import annotations

import pytest
from exchange_helpers import BUY, PRICE, at, kinds, send

from exchange.orders import ClientOrderIds, cancel, order
from exchange.reasons import VenueReason
from matching_engine.dtypes import EventKind
from matching_engine.reasons import Reason


def test_each_participant_numbers_its_strings_and_maps_them_back():
    ids = ClientOrderIds()
    assert ids.assign(0, "a-1") == (0, 1)
    assert ids.assign(0, "a-2") == (0, 2)
    assert ids.assign(1, "a-1") == (0, 1)  # unique per participant only
    assert ids.find(0, "a-2") == (0, 2)
    assert (ids.text(0, 2), ids.text(1, 1), ids.text(1, 2)) == ("a-2", "a-1", "")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", VenueReason.INVALID_CLIENT_ORDER_ID),
        ("x" * 33, VenueReason.INVALID_CLIENT_ORDER_ID),
        ("tab\there", VenueReason.INVALID_CLIENT_ORDER_ID),
        ("订单", VenueReason.INVALID_CLIENT_ORDER_ID),
        ("taken", VenueReason.DUPLICATE_CLIENT_ORDER_ID),
    ],
)
def test_bad_strings_are_refused_and_take_no_id(text, reason):
    ids = ClientOrderIds()
    ids.assign(0, "taken")
    assert ids.assign(0, text) == (reason, 0)
    assert ids.assign(0, "next") == (0, 2)


def test_32_characters_are_allowed_and_unknown_strings_name_no_order():
    ids = ClientOrderIds()
    assert ids.assign(0, "x" * 32) == (0, 1)
    assert ids.find(0, "y") == (Reason.UNKNOWN_ORDER, 0)


def test_a_gateway_trades_and_cancels_by_strings(star):
    exchange = star
    ids, t = ClientOrderIds(), at(exchange, "09:31")
    _, number = ids.assign(0, "GW-0001")
    events = send(exchange, order(0, 0, BUY, PRICE, 500, number, t))
    (accepted,) = events[events["kind"] == EventKind.ACCEPTED]
    assert ids.text(0, int(accepted["client_order_id"])) == "GW-0001"
    _, named = ids.find(0, "GW-0001")
    assert kinds(send(exchange, cancel(0, named, t + 1))) == ["CANCELLED"]
