"""Fee schedules: hand-checked examples, rounding to the fen, per-order minimums, rebates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.fees.schedule import (
    FeeItem,
    component_fee,
    fee_presets,
    fill_fees,
    load_schedule,
    round_to_fen,
    total,
)
from exchange.schema import SchemaError
from matching_engine.dtypes import Side

CNY = 10_000
STANDARD = load_schedule("standard")
TECHBOARD = load_schedule("techboard")


def itemised(items):
    return {item.name: item.amount for item in items}


def test_two_schedules_ship():
    assert fee_presets() == ["standard", "techboard"]


def test_cny_10000_buy_by_hand():
    # commission 0.025% = CNY 2.50 -> minimum CNY 5.00; handling 0.00341% = 0.341 -> 0.34;
    # CSRC 0.002% = 0.20; transfer 0.001% = 0.10; no stamp duty on a buy: CNY 5.64 in all.
    # (DOMAIN.md's CNY 5.44 leaves out the CSRC fee and rounds handling to 0.341.)
    items = fill_fees(STANDARD, Side.BUY, "taker", "investor", 10_000 * CNY)
    assert itemised(items) == {
        "handling_fee": 3_400,
        "csrc_fee": 2_000,
        "transfer_fee": 1_000,
        "broker_commission": 50_000,
    }
    assert total(items) == 56_400


def test_cny_10000_sell_adds_stamp_duty():
    items = fill_fees(STANDARD, Side.SELL, "maker", "investor", 10_000 * CNY)
    assert itemised(items)["stamp_duty"] == 50_000  # 0.05% = CNY 5.00
    assert total(items) == 106_400


def test_cny_1000000_buy_pays_the_rate_not_the_minimum():
    items = fill_fees(STANDARD, Side.BUY, "taker", "investor", 1_000_000 * CNY)
    assert itemised(items) == {
        "handling_fee": 341_000,
        "csrc_fee": 200_000,
        "transfer_fee": 100_000,
        "broker_commission": 2_500_000,
    }


def test_the_minimum_commission_is_charged_once_per_order():
    first = fill_fees(STANDARD, Side.BUY, "taker", "investor", 5_000 * CNY)
    second = fill_fees(STANDARD, Side.BUY, "taker", "investor", 5_000 * CNY, 5_000 * CNY)
    assert itemised(first)["broker_commission"] == 50_000
    assert itemised(second)["broker_commission"] == 0
    # past the minimum, the order pays the rate on its total: 30,000 CNY -> 7.50
    third = fill_fees(STANDARD, Side.BUY, "taker", "investor", 20_000 * CNY, 10_000 * CNY)
    assert itemised(third)["broker_commission"] == 75_000 - 50_000


@given(st.lists(st.integers(1, 10**11), min_size=1, max_size=8))
def test_order_basis_fills_add_up_to_one_fill_of_the_total(notionals):
    charged, prior = 0, 0
    for notional in notionals:
        charged += itemised(fill_fees(STANDARD, Side.BUY, "taker", "investor", notional, prior))[
            "broker_commission"
        ]
        prior += notional
    whole = itemised(fill_fees(STANDARD, Side.BUY, "taker", "investor", prior))
    assert charged == whole["broker_commission"]


@pytest.mark.parametrize(
    ("raw_units", "half_up", "up", "down"),
    [(50, 100, 100, 0), (49, 0, 100, 0), (150, 200, 200, 100), (100, 100, 100, 100), (0, 0, 0, 0)],
)
def test_rounding_to_the_fen(raw_units, half_up, up, down):
    amount = raw_units * 100_000_000  # notional x rate, in units x 10^8
    assert round_to_fen(amount, "half_up") == half_up
    assert round_to_fen(amount, "up") == up
    assert round_to_fen(amount, "down") == down


def test_half_a_fen_rounds_up():
    # transfer fee 0.001% of CNY 500 = CNY 0.005 -> 0.01
    assert component_fee(STANDARD.components["transfer_fee"], 500 * CNY, "half_up") == 100
    assert component_fee(STANDARD.components["transfer_fee"], 500 * CNY, "down") == 0


def test_techboard_rebates_designated_makers_on_resting_fills_only():
    maker = itemised(fill_fees(TECHBOARD, Side.BUY, "maker", "market_maker", 1_000_000 * CNY))
    assert maker["maker_rebate"] == -50_000  # -0.0005% of CNY 1,000,000 = -5.00
    taker = itemised(fill_fees(TECHBOARD, Side.BUY, "taker", "market_maker", 1_000_000 * CNY))
    investor = itemised(fill_fees(TECHBOARD, Side.BUY, "maker", "investor", 1_000_000 * CNY))
    assert "maker_rebate" not in taker and "maker_rebate" not in investor


def test_techboard_is_cheaper_and_marks_its_assumptions():
    for side in Side:
        cheap = total(fill_fees(TECHBOARD, side, "taker", "investor", 100_000 * CNY))
        dear = total(fill_fees(STANDARD, side, "taker", "investor", 100_000 * CNY))
        assert cheap < dear
    assert all(c.assumption for c in TECHBOARD.components.values())
    assert not any(c.assumption for c in STANDARD.components.values())


def test_total_of_items():
    assert total((FeeItem("a", "x", 5), FeeItem("b", "y", -2))) == 3


def test_listing_fees_by_share_capital_tier():
    initial = STANDARD.listing.fees["initial"]
    assert initial.amount(20_000_000) == 30_000 * CNY
    assert initial.amount(20_000_001) == 50_000 * CNY
    assert initial.amount(10**10) == 100_000 * CNY
    assert TECHBOARD.listing.fees["annual"].amount(1) == 10_000 * CNY
    assert TECHBOARD.listing.waivers["tech_firm_first_years"].years == 2


def write(tmp_path, text):
    path = tmp_path / "fees.toml"
    path.write_text('extends = "standard"\n' + text)
    return path


def test_a_user_schedule_cuts_one_component(tmp_path):
    schedule = load_schedule(write(tmp_path, "[components.stamp_duty]\nrate = 0\n"))
    items = itemised(fill_fees(schedule, Side.SELL, "taker", "investor", 10_000 * CNY))
    assert items["stamp_duty"] == 0 and items["broker_commission"] == 50_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[components.stamp_duty]\nrate = -5",
            "rate -5 is negative; only a rebate",
        ),
        (
            "[components.rebate]\nside = 'both'\nrate = -5\nrebate = true\nminimum = 100\n"
            "payee = 'rebate_pool'\nsource = 'x'",
            "a rebate needs rate <= 0 and no minimum",
        ),
        (
            "[components.broker_commission]\ncap = 1",
            "minimum 50000 and cap 1 must satisfy 0 <= minimum <= cap",
        ),
        (
            "[components.stamp_duty]\nrat = 5",
            r"unknown key 'rat' in \[components.stamp_duty\]; allowed keys: side, rate, payee",
        ),
        (
            "[components.stamp_duty]\nside = 'seller'",
            "got 'seller'; allowed: 'buy', 'sell', 'both'",
        ),
        ("rounding = 'banker'", "rounding: got 'banker'; allowed: 'half_up', 'up', 'down'"),
        (
            "[components.new]\nside = 'buy'\nrate = 1",
            r"missing key 'payee' in \[components.new\]",
        ),
        (
            "[listing.waivers.w]\nfee = 'gold'\nshare = 1\ncondition = 'c'\nsource = 's'",
            "waiver w names fee 'gold'; fees: initial, annual",
        ),
        (
            "[listing.fees.initial]\ntiers = [{up_to_shares = 5, amount = 1}, {up_to_shares = 2,"
            " amount = 1}, {amount = 1}]",
            r"tiers' up_to_shares \[5, 2, None\] must strictly increase",
        ),
        (
            "[listing.fees.initial]\ntiers = [{up_to_shares = 5, amount = 1}]",
            "the last tier takes no up_to_shares",
        ),
        ("[listing.waivers.autonomous_regions]\nshare = 0", "share 0 is not in 1..100000000"),
    ],
)
def test_bad_schedules_name_the_field(tmp_path, text, message):
    with pytest.raises(SchemaError, match=message):
        load_schedule(write(tmp_path, text))
