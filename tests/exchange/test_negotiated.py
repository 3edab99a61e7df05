"""Negotiated transfer: intents on the quote board, acceptances, confirmations, expiry, rules."""

from __future__ import annotations

import datetime

import pytest
from exchange_helpers import (
    BUY,
    MONDAY,
    PRICE,
    SELL,
    at,
    fills,
    kinds,
    make_exchange,
    snapshot,
    total_cash,
    total_shares,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.dtypes import MarketDataKind
from exchange.mechanisms.negotiated import NegotiationDesk
from exchange.reasons import VenueReason as V
from exchange.venue import kernel as k
from exchange.venue.exchange import Exchange
from matching_engine.reasons import Reason

HOUR = 3_600 * 10**9


def desk(exchange: Exchange) -> NegotiationDesk:
    (negotiated,) = exchange.desks
    return negotiated


@pytest.fixture
def techboard() -> Exchange:
    exchange = make_exchange(
        "techboard", kinds=("investor", "investor", "investor", "market_maker")
    )
    exchange.open_day(MONDAY)
    return exchange


def post(exchange, who, side, quantity, coid, time="10:00", day=MONDAY, **terms):
    t = at(exchange, time, day)
    terms.setdefault("expiry", t + HOUR)
    return desk(exchange).post(who, 0, side, terms.pop("price", PRICE), quantity, coid, t, **terms)


def accept(exchange, who, intent, quantity, coid, time="10:01", day=MONDAY):
    return desk(exchange).accept(who, intent, quantity, coid, at(exchange, time, day))


def test_the_interest_table_is_the_quote_board_in_bulk(techboard):
    sell = int(post(techboard, 0, SELL, 1_000, 1, price=PRICE + 100)["order_id"][0])
    named = int(post(techboard, 1, BUY, 300, 1, counterparty=2)["order_id"][0])
    table = desk(techboard).interest(0)
    assert table.tolist() == [
        [sell, 0, SELL, PRICE + 100, 1_000, -1],  # INTEREST_COLUMNS
        [named, 1, BUY, PRICE, 300, 2],
    ]
    accept(techboard, 3, sell, 400, 1)
    assert desk(techboard).interest(0)[0].tolist()[4] == 600  # what is left
    assert desk(techboard).interest(1).tolist() == []  # another instrument
    assert desk(techboard).interest(0, viewer=2)[:, 0].tolist() == [sell, named]
    assert desk(techboard).interest(0, viewer=3)[:, 0].tolist() == [sell]  # not named


def test_a_techboard_instrument_trades_by_partial_acceptance_of_a_firm_intent(techboard):
    cash, shares = total_cash(techboard), total_shares(techboard)
    intent = int(post(techboard, 0, SELL, 1_000, 1)["order_id"][0])
    assert [i.id for i in desk(techboard).quote_board(2)] == [intent]  # public board
    events = accept(techboard, 1, intent, 400, 1)
    assert kinds(events) == ["TRADE"] and fills(events) == [(PRICE, 400)]
    assert events[0]["owner"] == 1 and events[0]["contra_owner"] == 0
    assert events[0]["contra_leaves"] == 600 and events[0]["fee"] > 0
    prints = techboard.last_market_data
    assert prints["kind"].tolist() == [MarketDataKind.TRADE] and prints["quantity"][0] == 400
    (left,) = desk(techboard).quote_board(1)
    assert (left.quantity, left.left) == (1_000, 600)
    assert techboard.account(1)["positions"] == {"AAA": 10_400}
    assert techboard.account(0)["reserved_shares"] == {"AAA": 600}
    assert techboard.day_stats(0).volume == 400
    assert (total_cash(techboard), total_shares(techboard)) == (cash, shares)
    assert kinds(accept(techboard, 2, intent, 700, 1)) == ["REJECTED"]
    assert techboard.last_events["reason"][0] == V.QUANTITY_EXCEEDS_INTENT


def test_an_acceptance_within_five_trading_days_of_a_buy_is_refused():
    regional = make_exchange("regional")
    regional.open_day(MONDAY)
    intent = int(post(regional, 0, SELL, 500, 1, counterparty=1)["order_id"][0])
    assert kinds(accept(regional, 1, intent, 500, 1)) == ["TRADE"]
    regional.end_of_day()
    for day in (datetime.date(2025, 3, 4), datetime.date(2025, 3, 10)):
        regional.open_day(day)
        bid = int(post(regional, 2, BUY, 500, day.day, counterparty=1, day=day)["order_id"][0])
        before = snapshot(regional)
        events = accept(regional, 1, bid, 500, day.day, day=day)
        if day.day == 4:  # one trading day after the buy
            assert kinds(events) == ["REJECTED"]
            assert events["reason"][0] == V.SALE_WITHIN_ROUND_TRIP_DAYS
            assert snapshot(regional) == before
        else:  # five trading days after it
            assert kinds(events) == ["TRADE"]
        regional.end_of_day()


def test_a_bilateral_board_needs_a_named_counterparty_and_only_it_may_accept():
    regional = make_exchange("regional")
    regional.open_day(MONDAY)
    assert post(regional, 0, SELL, 500, 1)["reason"][0] == V.COUNTERPARTY_REQUIRED
    intent = int(post(regional, 0, SELL, 500, 2, counterparty=1)["order_id"][0])
    assert desk(regional).quote_board(2) == []
    assert [i.id for i in desk(regional).quote_board(1)] == [intent]
    assert accept(regional, 2, intent, 500, 1)["reason"][0] == V.NOT_THE_COUNTERPARTY
    assert accept(regional, 0, intent, 500, 1)["reason"][0] == V.OWN_INTENT


def test_an_expired_intent_cannot_be_accepted_and_frees_what_it_held(techboard):
    intent = int(post(techboard, 0, SELL, 1_000, 1, expiry=at(techboard, "10:05"))["order_id"][0])
    events = accept(techboard, 1, intent, 1_000, 1, time="10:06")
    assert kinds(events) == ["EXPIRED", "REJECTED"]
    assert events["reason"][1] == V.INTENT_EXPIRED
    assert techboard.account(0)["reserved_shares"] == {}
    assert desk(techboard).quote_board(1) == []


def test_intents_expire_at_the_end_of_the_day(techboard):
    post(techboard, 0, SELL, 1_000, 1, expiry=at(techboard, "10:00") + 48 * HOUR)
    techboard.end_of_day()
    assert "EXPIRED" in kinds(techboard.last_events)
    assert techboard.account(0)["reserved_shares"] == {}


def test_an_indicative_intent_trades_only_when_its_poster_confirms(techboard):
    intent = int(post(techboard, 0, BUY, 1_000, 1, firm=False)["order_id"][0])
    pending = accept(techboard, 1, intent, 300, 1)
    assert kinds(pending) == ["ACCEPTED"] and techboard.account(1)["reserved_shares"]
    acceptance = int(pending["order_id"][0])
    t = at(techboard, "10:02")
    refused = desk(techboard).confirm(1, acceptance, t)
    assert refused["reason"][0] == V.NOT_THE_POSTER
    assert fills(desk(techboard).confirm(0, acceptance, t)) == [(PRICE, 300)]
    declined = int(accept(techboard, 2, intent, 200, 1, time="10:03")["order_id"][0])
    events = desk(techboard).confirm(0, declined, at(techboard, "10:04"), agree=False)
    assert kinds(events) == ["CANCELLED"] and events["reason"][0] == Reason.CANCELLED_BY_OWNER
    assert techboard.account(2)["reserved_shares"] == {}
    assert desk(techboard).intent(intent).left == 700


def test_liquidity_providers_keep_two_sided_firm_intents_and_investors_cannot(techboard):
    assert kinds(post(techboard, 3, BUY, 1_000, 1, price=PRICE - 100)) == ["ACCEPTED"]
    assert kinds(post(techboard, 3, SELL, 1_000, 2, price=PRICE + 100)) == ["ACCEPTED"]
    post(techboard, 0, BUY, 1_000, 1, price=PRICE - 100)
    events = post(techboard, 0, SELL, 1_000, 2, price=PRICE + 100)
    assert events["reason"][0] == V.SALE_WITHIN_ROUND_TRIP_DAYS


def test_the_price_band_and_the_session_apply(techboard):
    assert post(techboard, 0, SELL, 100, 1, price=2 * PRICE + 100)["reason"][0] == (
        V.PRICE_ABOVE_LIMIT
    )
    lunch = post(techboard, 0, SELL, 100, 2, time="12:00")["reason"][0]
    assert lunch == V.PHASE_REJECTS_ORDER_TYPE
    intent = int(post(techboard, 0, SELL, 100, 3, time="13:30")["order_id"][0])
    t = at(techboard, "13:31")
    assert desk(techboard).withdraw(1, intent, t)["reason"][0] == V.NOT_THE_POSTER
    assert kinds(desk(techboard).withdraw(0, intent, t)) == ["CANCELLED"]


def test_journal_replay_rebuilds_the_quote_board_and_the_state(tmp_path):
    path = tmp_path / "negotiated.tbj"
    live = make_exchange("techboard", journal=path, fsync=False)
    live.open_day(MONDAY)
    firm = int(post(live, 0, SELL, 1_000, 1)["order_id"][0])
    soft = int(post(live, 2, BUY, 1_000, 1, firm=False)["order_id"][0])
    accept(live, 1, firm, 400, 1)
    accept(live, 3, soft, 200, 1)
    replayed = Exchange.replay(path)
    assert replayed.digest() == live.digest()
    assert desk(replayed).quote_board(1) == desk(live).quote_board(1)
    assert desk(replayed).pending == desk(live).pending


operation = st.one_of(
    st.tuples(
        st.just("post"),
        st.integers(0, 3),
        st.sampled_from([BUY, SELL]),
        st.integers(-3, 3),
        st.integers(1, 30),
        st.booleans(),
    ),
    st.tuples(st.just("accept"), st.integers(0, 3), st.integers(1, 20), st.integers(1, 30)),
    st.tuples(st.just("confirm"), st.integers(0, 3), st.integers(1, 40), st.booleans()),
    st.tuples(st.just("withdraw"), st.integers(0, 3), st.integers(1, 20)),
    st.tuples(st.just("later"), st.integers(1, 600)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(operation, max_size=40))
def test_cash_and_shares_are_conserved_by_negotiated_transfer(operations):
    exchange = make_exchange(
        "techboard", kinds=("investor", "investor", "investor", "market_maker")
    )
    exchange.open_day(MONDAY)
    cash, shares = total_cash(exchange), total_shares(exchange)
    negotiated, t, coid = desk(exchange), at(exchange, "10:00"), 1
    for op in operations:
        t += 1
        if op[0] == "post":
            _, who, side, ticks, lots, firm = op
            negotiated.post(who, 0, side, PRICE + 100 * ticks, 100 * lots, coid, t, t + 300 * 10**9,
                            firm)  # fmt: skip
        elif op[0] == "accept":
            negotiated.accept(op[1], op[2], 100 * op[3], coid, t)
        elif op[0] == "confirm":
            negotiated.confirm(op[1], op[2], t, op[3])
        elif op[0] == "withdraw":
            negotiated.withdraw(op[1], op[2], t)
        else:
            t += op[1] * 10**9
        coid += 1
        assert (total_cash(exchange), total_shares(exchange)) == (cash, shares)
        par, pos = exchange.state.par, exchange.state.pos
        assert (par[:, k.CASH] >= par[:, k.CASH_RES]).all() and (par[:, k.CASH_RES] >= 0).all()
        assert (pos[:, :, k.POS] >= pos[:, :, k.SH_RES]).all()
    exchange.end_of_day()
    assert (exchange.state.par[:, k.CASH_RES] == 0).all()
    assert (exchange.state.pos[:, :, k.SH_RES] == 0).all()


def test_intents_beyond_the_initial_order_capacity_grow_the_order_table():
    """The desk records each intent and acceptance as an order: past `capacity` the table grows
    (it did not: the 5th intent of a capacity-4 venue raised IndexError)."""
    exchange = make_exchange("techboard", capacity=4)
    exchange.open_day(MONDAY)
    intents = [
        int(post(exchange, 0, SELL, 100, coid, price=PRICE + coid * 100)["order_id"][0])
        for coid in range(1, 11)
    ]
    assert len(set(intents)) == 10
    traded = accept(exchange, 1, intents[-1], 100, 1)
    assert kinds(traded) == ["TRADE"]
