"""Order-entry rule functions: price limits with the board's rounding, cage, tick, lot, size."""

from __future__ import annotations

import dataclasses

import pytest

from exchange.reasons import VenueReason as V
from exchange.rules.boards import Cage, Eligibility, load_board
from exchange.rules.order_entry import (
    cage_benchmark,
    check_cage,
    check_eligibility,
    check_price_limits,
    check_quantity,
    check_tick,
    price_limits,
)
from matching_engine.dtypes import Side
from matching_engine.reasons import Reason

STAR = load_board("star")
EQUITY = STAR.rules("equity")
BOND = STAR.rules("convertible_bond")
REGIONAL = load_board("regional").rules("equity")


def test_star_limits_are_20_percent_rounded_half_up_to_the_fen():
    assert price_limits(EQUITY, 100_000, listing_day=6) == (80_000, 120_000)
    # 10.03 x 1.2 = 12.036 -> 12.04; 10.03 x 0.8 = 8.024 -> 8.02
    assert price_limits(EQUITY, 100_300, listing_day=6) == (80_200, 120_400)
    # 10.025 is off the tick but a reference may be: 12.03 and 8.02 exactly
    assert price_limits(EQUITY, 100_250, listing_day=6) == (80_200, 120_300)
    # 10.0125 x 1.2 = 12.015: exactly half a fen, rounded up to 12.02
    assert price_limits(EQUITY, 100_125, listing_day=6) == (80_100, 120_200)


def test_inward_rounding_rounds_the_upper_limit_down_and_the_lower_up():
    inward = dataclasses.replace(
        EQUITY, price_limits=dataclasses.replace(EQUITY.price_limits, rounding="inward")
    )
    assert price_limits(inward, 100_300, listing_day=6) == (80_300, 120_300)


def test_no_limit_in_the_first_five_days_then_20_percent():
    for day in range(1, 6):
        assert price_limits(EQUITY, 100_000, listing_day=day) is None
    assert price_limits(EQUITY, 100_000, listing_day=6) is not None


def test_convertible_bond_listing_day_band_then_20_percent():
    assert price_limits(BOND, 1_000_000, listing_day=1) == (567_000, 1_573_000)
    assert price_limits(BOND, 1_000_000, listing_day=2) == (800_000, 1_200_000)


def test_regional_band_is_50_to_200_percent_of_previous_close():
    assert price_limits(REGIONAL, 100_000, listing_day=1) == (50_000, 200_000)


def test_lower_limit_is_at_least_one_tick():
    assert price_limits(REGIONAL, 100, listing_day=1) == (100, 200)


def test_a_reference_price_must_be_positive():
    with pytest.raises(ValueError, match="reference price 0 must be positive"):
        price_limits(EQUITY, 0, listing_day=6)


@pytest.mark.parametrize(
    ("price", "reason"),
    [(120_000, 0), (120_100, V.PRICE_ABOVE_LIMIT), (80_000, 0), (79_900, V.PRICE_BELOW_LIMIT)],
)
def test_price_limit_check(price, reason):
    assert check_price_limits(price, (80_000, 120_000)) == reason
    assert check_price_limits(price, None) == 0


@pytest.mark.parametrize(
    ("rules", "price", "reason"),
    [
        (EQUITY, 100_100, 0),
        (EQUITY, 100_150, V.OFF_TICK),
        (EQUITY, 0, V.INVALID_PRICE),
        (EQUITY, -100, V.INVALID_PRICE),
        (BOND, 1_000_010, 0),
        (BOND, 1_000_005, V.OFF_TICK),
    ],
)
def test_tick_check(rules, price, reason):
    assert check_tick(rules, price) == reason


def test_cage_benchmark_falls_back_from_opposite_to_same_side_to_last_to_close():
    assert cage_benchmark(Side.BUY, 99_000, 101_000, 100_000, 98_000) == 101_000
    assert cage_benchmark(Side.SELL, 99_000, 101_000, 100_000, 98_000) == 99_000
    assert cage_benchmark(Side.BUY, 99_000, 0, 100_000, 98_000) == 99_000
    assert cage_benchmark(Side.SELL, 0, 0, 100_000, 98_000) == 100_000
    assert cage_benchmark(Side.SELL, 0, 0, 0, 98_000) == 98_000
    assert cage_benchmark(Side.BUY, 0, 0, 0, 0) == 0


@pytest.mark.parametrize(
    ("side", "price", "reason"),
    [
        (Side.BUY, 102_000, 0),
        (Side.BUY, 102_100, V.PRICE_OUTSIDE_CAGE),
        (Side.SELL, 98_000, 0),
        (Side.SELL, 97_900, V.PRICE_OUTSIDE_CAGE),
        (Side.BUY, 50_000, 0),
        (Side.SELL, 150_000, 0),
    ],
)
def test_star_cage_is_2_percent_of_the_benchmark(side, price, reason):
    assert check_cage(EQUITY.cage, EQUITY.tick, side, price, benchmark=100_000) == reason


def test_cage_min_ticks_widens_the_cage_for_low_prices():
    two_percent = Cage(pct=2_000_000)
    ten_ticks = Cage(pct=2_000_000, min_ticks=10)
    # benchmark CNY 1.00: 2% is 1.02, 10 ticks is 1.10
    assert check_cage(two_percent, 100, Side.BUY, 11_000, 10_000) == V.PRICE_OUTSIDE_CAGE
    assert check_cage(ten_ticks, 100, Side.BUY, 11_000, 10_000) == 0
    assert check_cage(ten_ticks, 100, Side.BUY, 11_100, 10_000) == V.PRICE_OUTSIDE_CAGE
    assert check_cage(ten_ticks, 100, Side.SELL, 9_000, 10_000) == 0
    assert check_cage(ten_ticks, 100, Side.SELL, 8_900, 10_000) == V.PRICE_OUTSIDE_CAGE


def test_no_cage_without_a_benchmark_or_on_a_board_without_one():
    assert check_cage(EQUITY.cage, 100, Side.BUY, 500_000, benchmark=0) == 0
    assert check_cage(REGIONAL.cage, 100, Side.BUY, 500_000, benchmark=100_000) == 0


@pytest.mark.parametrize(
    ("rules", "side", "order", "quantity", "holding", "reason"),
    [
        (EQUITY, Side.BUY, "limit", 200, 0, 0),
        (EQUITY, Side.BUY, "limit", 201, 0, 0),
        (EQUITY, Side.BUY, "limit", 199, 0, V.QUANTITY_BELOW_MINIMUM),
        (EQUITY, Side.BUY, "limit", 0, 0, Reason.INVALID_QUANTITY),
        (EQUITY, Side.BUY, "limit", 100_000, 0, 0),
        (EQUITY, Side.BUY, "limit", 100_001, 0, V.QUANTITY_ABOVE_MAXIMUM),
        (EQUITY, Side.BUY, "market", 50_000, 0, 0),
        (EQUITY, Side.BUY, "market", 50_001, 0, V.QUANTITY_ABOVE_MAXIMUM),
        (EQUITY, Side.BUY, "fixed_price", 1_000_000, 0, 0),
        (EQUITY, Side.BUY, "fixed_price", 1_000_001, 0, V.QUANTITY_ABOVE_MAXIMUM),
        (EQUITY, Side.SELL, "limit", 150, 150, 0),  # remainder under 200 sold in one order
        (EQUITY, Side.SELL, "limit", 150, 350, V.QUANTITY_BELOW_MINIMUM),
        (EQUITY, Side.BUY, "limit", 150, 150, V.QUANTITY_BELOW_MINIMUM),
        (BOND, Side.BUY, "limit", 10, 0, 0),
        (BOND, Side.BUY, "limit", 15, 0, V.QUANTITY_NOT_IN_STEPS),
        (BOND, Side.BUY, "limit", 5, 0, V.QUANTITY_BELOW_MINIMUM),
        (REGIONAL, Side.BUY, "intent", 250, 0, V.QUANTITY_NOT_IN_STEPS),
        (REGIONAL, Side.SELL, "intent", 1_250, 1_250, 0),  # odd lot: the whole holding
        (REGIONAL, Side.BUY, "intent", 10_000_000, 0, 0),  # no maximum
    ],
)
def test_quantity_rules(rules, side, order, quantity, holding, reason):
    assert check_quantity(rules, side, order, quantity, holding) == reason


GATE = Eligibility(
    kinds=("investor", "qualified_institution", "market_maker"),
    individual_min_assets=5_000_000_000,
    individual_min_months=24,
    institution_min_assets=50_000_000_000,
)


@pytest.mark.parametrize(
    ("kind", "assets", "months", "reason"),
    [
        ("investor", 5_000_000_000, 24, 0),
        ("investor", 4_999_999_999, 24, V.INVESTOR_NOT_ELIGIBLE),
        ("investor", 5_000_000_000, 23, V.INVESTOR_NOT_ELIGIBLE),
        ("qualified_institution", 50_000_000_000, 0, 0),
        ("qualified_institution", 49_999_999_999, 0, V.INVESTOR_NOT_ELIGIBLE),
        ("market_maker", 0, 0, 0),
        ("issuer", 10**12, 100, V.INVESTOR_NOT_ELIGIBLE),
    ],
)
def test_investor_gate(kind, assets, months, reason):
    assert check_eligibility(GATE, kind, assets, months) == reason
