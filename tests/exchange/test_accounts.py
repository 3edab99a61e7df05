"""Accounts: every refusal leaves the state unchanged; holding rules, holder cap, reservations."""

from __future__ import annotations

import datetime

import pytest
from venue_helpers import CNY, RICH, make_accounts

from exchange.clearing.accounts import Accounts, Participant
from exchange.fees.schedule import FeeItem
from exchange.reasons import VenueReason as V
from exchange.rules.boards import load_board
from matching_engine.dtypes import Side

PRICE = 10 * CNY  # CNY 10.00 a share


def funded(board="star"):
    """Accounts with investors 1 and 2; 1 holds 1,000 shares acquired on day 0."""
    accounts = make_accounts(board, "investor", "investor")
    accounts.open_account(Participant(3, "investor", financial_assets=0))
    accounts.list_security(2, "convertible_bond")
    assert accounts.issue(1, 1, 1_000, day=0) == 0
    return accounts


def with_open_orders(board="star"):
    accounts = funded(board)
    assert accounts.reserve_buy(10, 2, 1, 500, 500 * PRICE, day=5) == 0
    assert accounts.reserve_sell(11, 1, 1, 500, day=5) == 0
    return accounts


REFUSALS = [
    ("deposit unknown", funded, lambda a: a.deposit(9, 1), V.UNKNOWN_PARTICIPANT),
    ("deposit nothing", funded, lambda a: a.deposit(1, 0), V.INVALID_AMOUNT),
    ("withdraw unknown", funded, lambda a: a.withdraw(9, 1), V.UNKNOWN_PARTICIPANT),
    ("withdraw nothing", funded, lambda a: a.withdraw(1, -5), V.INVALID_AMOUNT),
    ("withdraw too much", funded, lambda a: a.withdraw(3, 1), V.INSUFFICIENT_CASH),
    (
        "withdraw reserved",
        with_open_orders,
        lambda a: a.withdraw(2, a.cash[2]),
        V.INSUFFICIENT_CASH,
    ),
    ("issue unknown security", funded, lambda a: a.issue(9, 1, 10, 0), V.UNKNOWN_INSTRUMENT),
    ("issue unknown holder", funded, lambda a: a.issue(1, 9, 10, 0), V.UNKNOWN_PARTICIPANT),
    ("issue nothing", funded, lambda a: a.issue(1, 1, 0, 0), V.INVALID_AMOUNT),
    ("client id unknown", funded, lambda a: a.claim_client_order_id(9, "a"), V.UNKNOWN_PARTICIPANT),
    (
        "client id empty",
        funded,
        lambda a: a.claim_client_order_id(1, ""),
        V.INVALID_CLIENT_ORDER_ID,
    ),
    (
        "client id too long",
        funded,
        lambda a: a.claim_client_order_id(1, "x" * 33),
        V.INVALID_CLIENT_ORDER_ID,
    ),
    (
        "client id reused",
        funded,
        lambda a: a.claim_client_order_id(1, "dup"),
        V.DUPLICATE_CLIENT_ORDER_ID,
    ),
    (
        "buy duplicate id",
        with_open_orders,
        lambda a: a.reserve_buy(10, 2, 1, 1, 0, 5),
        V.DUPLICATE_RESERVATION,
    ),
    ("buy no quantity", funded, lambda a: a.reserve_buy(1, 2, 1, 0, 0, 5), V.INVALID_AMOUNT),
    ("buy negative cash", funded, lambda a: a.reserve_buy(1, 2, 1, 1, -1, 5), V.INVALID_AMOUNT),
    ("buy unknown buyer", funded, lambda a: a.reserve_buy(1, 9, 1, 1, 1, 5), V.UNKNOWN_PARTICIPANT),
    (
        "buy unknown security",
        funded,
        lambda a: a.reserve_buy(1, 2, 9, 1, 1, 5),
        V.UNKNOWN_INSTRUMENT,
    ),
    (
        "buy not eligible",
        funded,
        lambda a: a.reserve_buy(1, 3, 1, 1, 0, 5),
        V.INVESTOR_NOT_ELIGIBLE,
    ),
    (
        "buy without cash",
        funded,
        lambda a: a.reserve_buy(1, 2, 1, 1, a.free_cash(2) + 1, 5),
        V.INSUFFICIENT_CASH,
    ),
    (
        "sell duplicate id",
        with_open_orders,
        lambda a: a.reserve_sell(11, 1, 1, 1, 5),
        V.DUPLICATE_RESERVATION,
    ),
    ("sell unknown seller", funded, lambda a: a.reserve_sell(1, 9, 1, 1, 5), V.UNKNOWN_PARTICIPANT),
    ("sell no quantity", funded, lambda a: a.reserve_sell(1, 1, 1, -1, 5), V.INVALID_AMOUNT),
    ("naked short", funded, lambda a: a.reserve_sell(1, 2, 1, 1, 5), V.INSUFFICIENT_SHARES),
    (
        "sell reserved shares",
        with_open_orders,
        lambda a: a.reserve_sell(1, 1, 1, 501, 5),
        V.INSUFFICIENT_SHARES,
    ),
    (
        "sell bought today (T+1)",
        funded,
        lambda a: a.reserve_sell(1, 1, 1, 1, 0),
        V.HOLDING_PERIOD_NOT_REACHED,
    ),
    (
        "sell without fee cash",
        funded,
        lambda a: a.reserve_sell(1, 1, 1, 1, 5, cash=a.free_cash(1) + 1),
        V.INSUFFICIENT_CASH,
    ),
    ("release unknown", funded, lambda a: a.release(99), V.UNKNOWN_RESERVATION),
    (
        "settle unknown",
        with_open_orders,
        lambda a: a.settle(10, 99, 1, PRICE, 5),
        V.UNKNOWN_RESERVATION,
    ),
    (
        "settle two sells",
        with_open_orders,
        lambda a: a.settle(11, 11, 1, PRICE, 5),
        V.WRONG_SECURITY,
    ),
    ("settle zero price", with_open_orders, lambda a: a.settle(10, 11, 1, 0, 5), V.INVALID_AMOUNT),
    (
        "settle zero quantity",
        with_open_orders,
        lambda a: a.settle(10, 11, 0, PRICE, 5),
        V.INVALID_AMOUNT,
    ),
    (
        "settle overfill",
        with_open_orders,
        lambda a: a.settle(10, 11, 501, PRICE, 5),
        V.FILL_EXCEEDS_RESERVATION,
    ),
    (
        "settle above the cash reserved",
        with_open_orders,
        lambda a: a.settle(10, 11, 500, PRICE + 100, 5),
        V.FILL_EXCEEDS_RESERVATION,
    ),
    (
        "settle seller fees beyond proceeds",
        with_open_orders,
        lambda a: a.settle(10, 11, 1, PRICE, 5, seller_fees=(FeeItem("f", "x", PRICE + 1),)),
        V.FILL_EXCEEDS_RESERVATION,
    ),
    (
        "trade refused keeps both sides",
        funded,
        lambda a: a.trade(3, 1, 1, 100, PRICE, 5),
        V.INVESTOR_NOT_ELIGIBLE,
    ),
    ("trade at price 0", funded, lambda a: a.trade(2, 1, 1, 100, 0, 5), V.INVALID_AMOUNT),
]


@pytest.mark.parametrize(
    ("setup", "action", "reason"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_every_refusal_leaves_the_state_unchanged(setup, action, reason):
    accounts = setup()
    accounts.claim_client_order_id(1, "dup")
    before = accounts.state()
    assert action(accounts) == reason
    assert accounts.state() == before


def test_a_fill_settles_delivery_versus_payment_with_fees():
    accounts = funded()
    cash1, cash2 = accounts.cash[1], accounts.cash[2]
    assert accounts.reserve_buy(10, 2, 1, 300, 300 * PRICE + 10 * CNY, day=1) == 0
    assert accounts.reserve_sell(11, 1, 1, 300, day=1) == 0
    buyer_fees = (FeeItem("broker_commission", "broker", 5 * CNY),)
    seller_fees = (
        FeeItem("stamp_duty", "tax", 15_000),
        FeeItem("broker_commission", "broker", 5 * CNY),
    )
    assert accounts.settle(10, 11, 300, PRICE, 1, buyer_fees, seller_fees) == 0
    assert accounts.cash[2] == cash2 - 3_000 * CNY - 5 * CNY
    assert accounts.cash[1] == cash1 + 3_000 * CNY - 15_000 - 5 * CNY
    assert (accounts.position(1, 1), accounts.position(2, 1)) == (700, 300)
    assert accounts.fees_collected == {"broker": 10 * CNY, "tax": 15_000}
    # both reservations filled in full: released, the buyer's unspent CNY 5 back
    assert accounts.reservations == {}
    assert accounts.free_cash(2) == accounts.cash[2]
    assert accounts.free_shares(1, 1) == 700


def test_reservations_are_released_on_cancel_after_a_partial_fill():
    accounts = funded()
    free2 = accounts.free_cash(2)
    assert accounts.reserve_buy(10, 2, 1, 500, 500 * PRICE, day=1) == 0
    assert accounts.reserve_sell(11, 1, 1, 800, day=1) == 0
    assert accounts.free_cash(2) == free2 - 500 * PRICE
    assert accounts.free_shares(1, 1) == 200
    assert accounts.settle(10, 11, 200, PRICE - 100, 1) == 0
    assert accounts.reservations[10].quantity == 300
    assert accounts.release(10) == 0  # cancel: the remainder and the price improvement
    assert accounts.release(11) == 0  # expiry
    assert accounts.free_cash(2) == accounts.cash[2] == free2 - 200 * (PRICE - 100)
    assert accounts.free_shares(1, 1) == accounts.position(1, 1) == 800
    assert accounts.cash_reserved == {1: 0, 2: 0, 3: 0}


def test_seller_pays_fees_beyond_proceeds_from_its_reserved_cash():
    accounts = funded()
    assert accounts.reserve_buy(10, 2, 1, 1, PRICE, day=1) == 0
    assert accounts.reserve_sell(11, 1, 1, 1, day=1, cash=5 * CNY) == 0
    cash1 = accounts.cash[1]
    fees = (FeeItem("broker_commission", "broker", 5 * CNY + PRICE),)
    assert accounts.settle(10, 11, 1, PRICE, 1, seller_fees=fees) == 0
    assert accounts.cash[1] == cash1 - 5 * CNY
    assert accounts.cash_reserved[1] == 0


def test_t_plus_1_only_lots_of_earlier_days_are_sellable():
    accounts = funded("star")
    assert accounts.issue(1, 2, 200, day=0) == 0
    assert accounts.trade(2, 1, 1, 300, PRICE, day=3) == 0  # 2 buys 300 on day 3
    assert accounts.sellable(2, 1, day=3) == 200
    assert accounts.reserve_sell(1, 2, 1, 201, day=3) == V.HOLDING_PERIOD_NOT_REACHED
    assert accounts.reserve_sell(1, 2, 1, 200, day=3) == 0
    assert accounts.sellable(2, 1, day=4) == 300
    assert accounts.reserve_sell(2, 2, 1, 300, day=4) == 0


def test_convertible_bonds_are_t_plus_0_on_star():
    accounts = funded("star")
    assert accounts.issue(2, 1, 100, day=3) == 0
    assert accounts.reserve_sell(1, 1, 2, 100, day=3) == 0


def test_lots_are_delivered_oldest_first():
    accounts = funded("star")
    accounts.issue(1, 1, 100, day=2)
    assert accounts.trade(2, 1, 1, 1_050, PRICE, day=3) == 0
    assert list(map(tuple, accounts.lots[(1, 1)])) == [(2, 50)]


# the regional round-trip rule ----------------------------------------------------------


def regional():
    accounts = make_accounts("regional", "investor", "investor", "market_maker")
    accounts.issue(1, 1, 10_000, day=0)
    return accounts


def test_a_sale_within_5_trading_days_of_a_buy_is_refused():
    accounts = regional()
    assert accounts.trade(2, 1, 1, 1_000, PRICE, day=10) == 0  # 2 buys on day 10
    for day in range(10, 15):
        before = accounts.state()
        assert accounts.trade(3, 2, 1, 100, PRICE, day=day) == V.SALE_WITHIN_ROUND_TRIP_DAYS
        assert accounts.state() == before
    assert accounts.trade(3, 2, 1, 100, PRICE, day=15) == 0


def test_a_buy_within_5_trading_days_of_a_sale_is_refused():
    accounts = regional()
    assert accounts.trade(2, 1, 1, 1_000, PRICE, day=10) == 0  # 1 sells on day 10
    for day in range(10, 15):
        assert accounts.reserve_buy(7, 1, 1, 100, 100 * PRICE, day=day) == (
            V.BUY_WITHIN_ROUND_TRIP_DAYS
        )
    assert accounts.reserve_buy(7, 1, 1, 100, 100 * PRICE, day=15) == 0


def test_the_last_buy_restarts_the_5_days_even_for_older_shares():
    accounts = regional()
    assert accounts.trade(2, 1, 1, 1_000, PRICE, day=10) == 0
    accounts.issue(1, 3, 500, day=0)
    assert accounts.trade(2, 3, 1, 100, PRICE, day=13) == 0  # another buy on day 13
    assert accounts.reserve_sell(1, 2, 1, 100, day=17) == V.SALE_WITHIN_ROUND_TRIP_DAYS
    assert accounts.reserve_sell(1, 2, 1, 100, day=18) == 0


def test_a_live_buy_order_blocks_a_sale_and_a_live_sale_blocks_a_buy():
    accounts = regional()
    assert accounts.reserve_sell(1, 1, 1, 100, day=20) == 0
    assert accounts.reserve_buy(2, 1, 1, 100, 100 * PRICE, day=20) == V.BUY_WITHIN_ROUND_TRIP_DAYS
    assert accounts.release(1) == 0
    assert accounts.reserve_buy(2, 1, 1, 100, 100 * PRICE, day=20) == 0
    assert accounts.reserve_sell(3, 1, 1, 100, day=20) == V.SALE_WITHIN_ROUND_TRIP_DAYS


def test_round_trip_rule_across_the_spring_festival(calendar):
    accounts = regional()
    day = calendar.day_number
    assert accounts.trade(2, 1, 1, 1_000, PRICE, day=day(datetime.date(2025, 1, 24))) == 0
    refused = accounts.trade(3, 2, 1, 100, PRICE, day=day(datetime.date(2025, 2, 7)))
    assert refused == V.SALE_WITHIN_ROUND_TRIP_DAYS
    assert accounts.trade(3, 2, 1, 100, PRICE, day=day(datetime.date(2025, 2, 10))) == 0


def test_market_makers_are_exempt_on_the_mm_board():
    accounts = make_accounts("techboard-mm", "investor", "market_maker")
    accounts.issue(1, 1, 10_000, day=0)
    assert accounts.trade(2, 1, 1, 1_000, PRICE, day=10) == 0
    assert accounts.reserve_sell(1, 2, 1, 500, day=10) == 0  # the maker sells the same day
    assert accounts.reserve_buy(2, 2, 1, 100, 100 * PRICE, day=10) == 0
    assert accounts.reserve_buy(3, 1, 1, 100, 100 * PRICE, day=11) == V.BUY_WITHIN_ROUND_TRIP_DAYS


# the 200-holder cap ---------------------------------------------------------------------


def crowd(board="regional", holders=200):
    """Regional accounts where participants 1..holders hold the security, 201..203 do not."""
    accounts = make_accounts(board, *["investor"] * 203, "issuer")
    for participant in range(1, holders + 1):
        assert accounts.issue(1, participant, 1_000, day=0) == 0
    return accounts


def test_the_201st_holder_is_refused_by_issue_and_by_transfer():
    accounts = crowd()
    assert accounts.holder_count(1) == 200
    before = accounts.state()
    assert accounts.issue(1, 201, 100, day=0) == V.HOLDER_CAP_REACHED
    assert accounts.trade(201, 1, 1, 100, PRICE, day=10) == V.HOLDER_CAP_REACHED
    assert accounts.reserve_buy(1, 201, 1, 100, 100 * PRICE, day=10) == V.HOLDER_CAP_REACHED
    assert accounts.state() == before
    assert accounts.trade(2, 1, 1, 100, PRICE, day=10) == 0  # between existing holders


def test_issuers_do_not_count_as_holders():
    accounts = crowd()
    assert accounts.issue(1, 204, 1_000_000, day=0) == 0
    assert accounts.holder_count(1) == 200


def test_holders_count_over_the_security_life_by_default():
    accounts = crowd()
    assert accounts.trade(3, 2, 1, 1_000, PRICE, day=10) == 0  # 2 sells out
    assert accounts.position(2, 1) == 0
    assert accounts.holder_count(1) == 200
    assert accounts.trade(201, 1, 1, 100, PRICE, day=20) == V.HOLDER_CAP_REACHED
    assert accounts.trade(2, 1, 1, 100, PRICE, day=20) == 0  # a former holder may come back


def test_counting_current_holders_frees_a_place_when_one_sells_out(tmp_path):
    path = tmp_path / "current.toml"
    path.write_text('extends = "regional"\n[holder_cap]\ncount = "current"\n')
    accounts = Accounts(load_board(path))
    for participant in range(1, 202):
        accounts.open_account(Participant(participant, "investor", RICH), 1_000_000 * CNY)
    accounts.list_security(1, "equity")
    for participant in range(1, 201):
        accounts.issue(1, participant, 1_000, day=0)
    assert accounts.trade(201, 1, 1, 100, PRICE, day=10) == V.HOLDER_CAP_REACHED
    assert accounts.trade(3, 2, 1, 1_000, PRICE, day=10) == 0
    assert accounts.holder_count(1) == 199
    assert accounts.trade(201, 1, 1, 100, PRICE, day=20) == 0


def test_live_buy_orders_of_non_holders_take_places_under_the_cap():
    accounts = crowd(holders=199)
    assert accounts.reserve_buy(1, 201, 1, 100, 100 * PRICE, day=10) == 0
    assert accounts.reserve_buy(2, 202, 1, 100, 100 * PRICE, day=10) == V.HOLDER_CAP_REACHED
    assert accounts.reserve_buy(3, 201, 1, 100, 100 * PRICE, day=10) == 0  # same buyer again
    assert accounts.release(1) == 0 and accounts.release(3) == 0
    assert accounts.reserve_buy(2, 202, 1, 100, 100 * PRICE, day=10) == 0


def test_no_cap_on_star():
    accounts = make_accounts("star", *["investor"] * 250)
    for participant in range(1, 251):
        assert accounts.issue(1, participant, 100, day=0) == 0
    assert accounts.holder_count(1) == 250


def test_client_order_ids_are_unique_per_participant():
    accounts = funded()
    assert accounts.claim_client_order_id(1, "order-1") == 0
    assert accounts.claim_client_order_id(2, "order-1") == 0
    assert accounts.claim_client_order_id(1, "order-1") == V.DUPLICATE_CLIENT_ORDER_ID
    assert accounts.claim_client_order_id(1, "x" * 32) == 0


def test_set_up_misuse_raises():
    accounts = funded()
    with pytest.raises(ValueError, match="participant 1 already has an account"):
        accounts.open_account(Participant(1, "investor"))
    with pytest.raises(ValueError, match="opening cash -1 must not be negative"):
        accounts.open_account(Participant(8, "investor"), -1)
    with pytest.raises(ValueError, match="security 1 is already listed"):
        accounts.list_security(1, "equity")
    with pytest.raises(KeyError, match="lists no class 'preferred_share'"):
        accounts.list_security(5, "preferred_share")


def test_sell_side_reservation_holds_shares_not_cash():
    accounts = funded()
    assert accounts.reserve_sell(1, 1, 1, 400, day=1) == 0
    assert accounts.reservations[1].side == Side.SELL
    assert (accounts.free_shares(1, 1), accounts.free_cash(1)) == (600, accounts.cash[1])
