"""Property: random reservations, fills, releases and trades with fees conserve cash and shares."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from venue_helpers import CNY, make_accounts

from exchange.fees.schedule import fill_fees, load_schedule, total
from matching_engine.dtypes import Side

SCHEDULE = load_schedule("techboard")  # has a maker rebate: negative fees too
PARTICIPANTS = (1, 2, 3, 4)
KINDS = ("investor", "market_maker", "qualified_institution", "investor")

participant = st.sampled_from(PARTICIPANTS)
quantity = st.integers(1, 3_000)
price = st.integers(1, 300).map(lambda ticks: ticks * 100)
operation = st.one_of(
    st.tuples(st.just("buy"), participant, quantity, price),
    st.tuples(st.just("sell"), participant, quantity, price),
    st.tuples(st.just("fill"), st.integers(0, 50), st.integers(0, 50), quantity),
    st.tuples(st.just("release"), st.integers(0, 50)),
    st.tuples(st.just("trade"), participant, participant, quantity, price),
    st.tuples(
        st.just("next_day"),
    ),
)


def fees(side, liquidity, who, notional, accounts):
    return fill_fees(SCHEDULE, side, liquidity, accounts.participants[who].kind, notional)


def check_invariants(accounts, cash_total, shares_total):
    assert sum(accounts.cash.values()) + sum(accounts.fees_collected.values()) == cash_total
    assert sum(accounts.positions.values()) == shares_total
    for who in PARTICIPANTS:
        assert accounts.cash[who] >= accounts.cash_reserved[who] >= 0
    for key, position in accounts.positions.items():
        assert position >= accounts.shares_reserved.get(key, 0) >= 0
        assert sum(q for _, q in accounts.lots.get(key, ())) == position
    held = {}
    for reservation in accounts.reservations.values():
        held[reservation.participant] = held.get(reservation.participant, 0) + reservation.cash
    assert all(accounts.cash_reserved[w] == held.get(w, 0) for w in PARTICIPANTS)


@settings(max_examples=150, deadline=None)
@given(st.lists(operation, max_size=60))
def test_cash_plus_fees_and_shares_are_conserved(operations):
    accounts = make_accounts("techboard-mm", *KINDS, cash=100_000 * CNY)
    for who in PARTICIPANTS:
        accounts.issue(1, who, 5_000, day=0)
    cash_total, shares_total = sum(accounts.cash.values()), 20_000
    day, next_id, limits = 1, 1, {}
    for op in operations:
        kind = op[0]
        if kind == "buy":
            _, who, qty, px = op
            budget = qty * px + total(fees(Side.BUY, "taker", who, qty * px, accounts)) + 5 * CNY
            if accounts.reserve_buy(next_id, who, 1, qty, budget, day) == 0:
                limits[next_id] = px
            next_id += 1
        elif kind == "sell":
            _, who, qty, px = op
            if accounts.reserve_sell(next_id, who, 1, qty, day, cash=10 * CNY) == 0:
                limits[next_id] = px
            next_id += 1
        elif kind == "fill":
            _, i, j, qty = op
            open_ids = sorted(accounts.reservations)
            if not open_ids:
                continue
            buy, sell = open_ids[i % len(open_ids)], open_ids[j % len(open_ids)]
            held_buy, held_sell = accounts.reservations[buy], accounts.reservations[sell]
            px = limits[sell]
            notional = px * qty
            accounts.settle(
                buy,
                sell,
                qty,
                px,
                day,
                fees(Side.BUY, "taker", held_buy.participant, notional, accounts),
                fees(Side.SELL, "maker", held_sell.participant, notional, accounts),
            )
        elif kind == "release":
            open_ids = sorted(accounts.reservations)
            if open_ids:
                assert accounts.release(open_ids[op[1] % len(open_ids)]) == 0
        elif kind == "trade":
            _, buyer, seller, qty, px = op
            notional = qty * px
            accounts.trade(
                buyer,
                seller,
                1,
                qty,
                px,
                day,
                fees(Side.BUY, "taker", buyer, notional, accounts),
                fees(Side.SELL, "maker", seller, notional, accounts),
            )
        else:
            day += 1
        check_invariants(accounts, cash_total, shares_total)
    for reservation in list(accounts.reservations):
        accounts.release(reservation)
    assert all(v == 0 for v in accounts.cash_reserved.values())
    assert all(v == 0 for v in accounts.shares_reserved.values())
