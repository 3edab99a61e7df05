"""Every reason the venue refuses a command at entry: a REJECTED event, the state unchanged."""

from __future__ import annotations

import pytest
from exchange_helpers import BUY, MONDAY, PRICE, SELL, at, make_exchange, send, snapshot
from venue_helpers import CNY

from exchange.clearing.accounts import Participant
from exchange.orders import cancel, order
from exchange.reasons import VenueReason as V
from exchange.reasons import reason_name
from exchange.venue.exchange import Exchange, Listing
from matching_engine.dtypes import EventKind, OrderType, TimeInForce
from matching_engine.reasons import Reason as R

BOND_PRICE = 100 * CNY
BOND = Listing("BND", "convertible_bond", BOND_PRICE)


def star(time="09:31"):
    exchange = make_exchange("star", listings=(Listing("AAA", "equity", PRICE), BOND))
    exchange.open_day(MONDAY)
    exchange.advance(at(exchange, time))
    return exchange


def call_board(board="techboard-call"):
    exchange = make_exchange(board)
    exchange.open_day(MONDAY)
    exchange.advance(at(exchange, "09:31"))
    return exchange


def poor():
    exchange = Exchange(
        "star", [Listing("AAA", "equity", PRICE)], [Participant(0, "investor", 10 * CNY, 36)]
    )
    exchange.deposit(0, 10**6 * CNY)
    exchange.open_day(MONDAY)
    exchange.advance(at(exchange, "09:31"))
    return exchange


def bought_today():
    exchange = star()
    t = at(exchange, "09:31")
    send(exchange, order(1, 0, SELL, PRICE, 500, 1, t), order(0, 0, BUY, PRICE, 500, 1, t))
    return exchange


def halted():
    exchange = star()
    exchange.halt(0, at(exchange, "09:31"))
    return exchange


def live_order():
    exchange = star()
    send(exchange, order(0, 0, BUY, PRICE - 100, 300, 5, at(exchange, "09:31")))
    return exchange


def sold():
    exchange = call_board()
    t = at(exchange, "09:31")
    send(exchange, order(1, 0, SELL, PRICE, 500, 1, t), order(0, 0, BUY, PRICE, 500, 1, t))
    exchange.advance(at(exchange, "09:40"))  # the uncross: 0 bought and 1 sold on a call board
    return exchange


def full_holder_register(tmp_path_factory):
    board = tmp_path_factory.mktemp("boards") / "capped.toml"
    board.write_text('extends = "techboard-call"\n[holder_cap]\nlimit = 4\n')
    exchange = make_exchange(str(board), kinds=("investor",) * 5, shares=0)
    for p in range(4):
        exchange.issue(0, p, 1_000)
    exchange.open_day(MONDAY)
    exchange.advance(at(exchange, "09:31"))
    return exchange


def new(participant=0, instrument=0, side=BUY, price=PRICE, quantity=200, coid=1, **kw):
    return lambda t: order(participant, instrument, side, price, quantity, coid, t, **kw)


def cancel_of(coid):
    return lambda t: cancel(0, coid, t)


MARKET = {"order_type": OrderType.MARKET}
at_16, at_9_16, at_12, at_14_58 = (
    lambda x=x: star(x) for x in ("16:00", "09:16", "12:00", "14:58")
)
CASES = {
    # name: (setup, command at the clock, expected reason)
    "unknown participant": (star, new(participant=9), V.UNKNOWN_PARTICIPANT),
    "unknown instrument": (star, new(instrument=7), V.UNKNOWN_INSTRUMENT),
    "invalid side": (star, new(side=5), R.INVALID_SIDE),
    "invalid order type": (star, new(order_type=4), R.INVALID_ORDER_TYPE),
    "invalid time in force": (star, new(tif=9), R.INVALID_TIME_IN_FORCE),
    "invalid client order id": (star, new(coid=0), V.INVALID_CLIENT_ORDER_ID),
    "duplicate client order id": (live_order, new(coid=5), V.DUPLICATE_CLIENT_ORDER_ID),
    "market closed": (at_16, new(), V.MARKET_CLOSED),
    "market order in a call": (at_9_16, new(**MARKET), V.PHASE_REJECTS_ORDER_TYPE),
    "IOC in a call": (call_board, new(tif=TimeInForce.IOC), V.PHASE_REJECTS_ORDER_TYPE),
    "order in the lunch break": (at_12, new(), V.PHASE_REJECTS_ORDER_TYPE),
    "cancel in the closing call": (at_14_58, cancel_of(1), V.PHASE_REJECTS_CANCEL),
    "halted instrument": (halted, new(), V.INSTRUMENT_HALTED),
    "price above the limit": (star, new(price=PRICE * 12 // 10 + 100), V.PRICE_ABOVE_LIMIT),
    "price below the limit": (
        star,
        new(side=SELL, price=PRICE * 4 // 5 - 100),
        V.PRICE_BELOW_LIMIT,
    ),
    "buy outside the cage": (star, new(price=PRICE * 103 // 100), V.PRICE_OUTSIDE_CAGE),
    "sell outside the cage": (star, new(side=SELL, price=PRICE * 97 // 100), V.PRICE_OUTSIDE_CAGE),
    "off tick": (star, new(price=PRICE + 50), V.OFF_TICK),
    "price not positive": (star, new(price=0), V.INVALID_PRICE),
    "quantity not positive": (star, new(quantity=0), R.INVALID_QUANTITY),
    "below the minimum": (star, new(quantity=199), V.QUANTITY_BELOW_MINIMUM),
    "bond lot not in steps": (
        star,
        new(instrument=1, price=BOND_PRICE, quantity=15),
        V.QUANTITY_NOT_IN_STEPS,
    ),
    "above the maximum": (star, new(quantity=100_001), V.QUANTITY_ABOVE_MAXIMUM),
    "market above its maximum": (star, new(quantity=50_001, **MARKET), V.QUANTITY_ABOVE_MAXIMUM),
    "not eligible": (poor, new(), V.INVESTOR_NOT_ELIGIBLE),
    "T+1": (bought_today, new(side=SELL, quantity=10_200, coid=2), V.HOLDING_PERIOD_NOT_REACHED),
    "no short selling": (star, new(side=SELL, quantity=10_001), V.INSUFFICIENT_SHARES),
    "not enough cash": (star, new(quantity=100_000), V.INSUFFICIENT_CASH),
    "sale within the round trip": (
        sold,
        new(side=SELL, quantity=100, coid=2),
        V.SALE_WITHIN_ROUND_TRIP_DAYS,
    ),
    "buy within the round trip": (
        sold,
        new(participant=1, quantity=100, coid=2),
        V.BUY_WITHIN_ROUND_TRIP_DAYS,
    ),
    "cancel of an unknown order": (star, cancel_of(99), R.UNKNOWN_ORDER),
    "unknown command": (star, new(), R.UNKNOWN_COMMAND),
}


@pytest.mark.parametrize("name", CASES)
def test_refusal_leaves_the_state_unchanged(name):
    setup, command, expected = CASES[name]
    exchange = setup()
    row = command(exchange.clock + 1)
    if name == "unknown command":
        row["kind"] = 9
    before = snapshot(exchange)
    events = send(exchange, row)
    events = events[events["command"] >= 0]
    assert len(events) == 1 and events[0]["kind"] == EventKind.REJECTED
    assert reason_name(events[0]["reason"]) == expected.name
    assert snapshot(exchange) == before


def test_a_201st_holder_is_refused(tmp_path_factory):
    exchange = full_holder_register(tmp_path_factory)
    before = snapshot(exchange)
    events = send(exchange, order(4, 0, BUY, PRICE, 100, 1, exchange.clock + 1))
    assert events[-1]["reason"] == V.HOLDER_CAP_REACHED
    assert snapshot(exchange) == before


def test_account_operations_refuse_bad_amounts_and_unknown_ids():
    exchange = make_exchange("star")
    before = snapshot(exchange)
    assert exchange.deposit(0, 0) == V.INVALID_AMOUNT
    assert exchange.deposit(9, CNY) == V.UNKNOWN_PARTICIPANT
    assert exchange.issue(3, 0, 10) == V.UNKNOWN_INSTRUMENT
    assert exchange.issue(0, 0, -1) == V.INVALID_AMOUNT
    assert snapshot(exchange) == before
