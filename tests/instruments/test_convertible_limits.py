"""Limits every convertible pricer must respect, and Monte Carlo against the lattice."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pytest
from builders import convertible, market

from instruments.convertible_lattice import value_lattice
from instruments.convertible_lsmc import value_lsmc
from instruments.terms import CallClause, PutClause, RevisionClause
from instruments.valuation import Market, bond_floor, cashflows, parity

SOFT_CALL = CallClause(ratio=130_000_000, days=1, window=1)


@pytest.mark.parametrize("spot", [5.0, 9.0, 10.0, 12.0, 20.0])
def test_zero_volatility_is_the_better_of_bond_floor_and_parity_path(spot):
    # With no volatility and no dividends the share grows at r, converting early never pays, so
    # value = coupons before maturity + max(redemption and last coupon, parity), each discounted.
    terms, at = convertible(3), market(spot=spot, volatility=0.0)
    times, amounts = cashflows(terms, at.valuation_date)
    discount = np.exp(-(at.rate + at.credit_spread) * times)
    expected = float(np.sum(amounts[:-1] * discount[:-1])) + max(
        amounts[-1] * discount[-1], parity(terms, spot)
    )
    assert value_lattice(terms, at, 500).value == pytest.approx(expected, rel=1e-12)


def test_deep_in_the_money_value_tends_to_parity():
    terms = convertible(3)
    premiums = [value_lattice(terms, market(spot=s)).premium for s in (20.0, 40.0, 80.0)]
    assert premiums == sorted(premiums, reverse=True)
    assert premiums[-1] < 0.01


def test_callable_bond_above_the_trigger_is_worth_parity():
    terms = convertible(3, call=SOFT_CALL)
    at = market(spot=14.0, valuation_date=datetime.date(2026, 1, 5))
    result = value_lattice(terms, at)
    assert result.value == pytest.approx(result.parity, rel=1e-12)
    assert result.debt_part == pytest.approx(0.0, abs=1e-9)


def test_deep_out_of_the_money_value_tends_to_the_bond_floor():
    terms = convertible(3)
    result = value_lattice(terms, market(spot=1.0))
    assert result.bond_floor <= result.value < result.bond_floor * (1 + 1e-6)
    assert result.equity_part < 1e-3


@pytest.mark.parametrize("spot", [4.0, 10.0, 16.0])
def test_value_is_at_least_the_bond_floor_and_parity_and_splits_into_parts(spot):
    result = value_lattice(convertible(5), market(spot=spot))
    assert result.value >= max(result.bond_floor, result.parity)
    assert result.equity_part + result.debt_part == pytest.approx(result.value)


@pytest.mark.parametrize("clauses", [{}, {"call": SOFT_CALL}])
def test_lattice_converges_and_its_greeks_match_bumped_values(clauses):
    # Values bumped by less than a few node spacings zigzag (the split of each node into share
    # and cash parts flips across the conversion boundary), so the bumps here are wide.
    terms, at = convertible(4, **clauses), market(spot=9.0)
    coarse, fine = value_lattice(terms, at, 1000), value_lattice(terms, at, 4000)
    assert coarse.value == pytest.approx(fine.value, rel=2e-3)
    up, down = (value_lattice(terms, at.with_spot(9.0 + s), 4000) for s in (1.0, -1.0))
    assert fine.delta == pytest.approx((up.value - down.value) / 2.0, rel=0.01)
    up, down = (value_lattice(terms, at.with_spot(9.0 + s), 4000) for s in (0.5, -0.5))
    assert fine.gamma == pytest.approx(up.delta - down.delta, rel=0.05)


def test_put_raises_the_value_and_the_call_lowers_it():
    at = market(spot=8.0, credit_spread=0.1, valuation_date=datetime.date(2028, 6, 1))
    plain = value_lattice(convertible(5), at).value
    put = PutClause(ratio=70_000_000, days=1, window=1, years=2)
    conditional = value_lattice(convertible(5, put=put), at).value
    anytime = PutClause(ratio=10**12, days=1, window=1, years=2)
    assert plain < conditional < value_lattice(convertible(5, put=anytime), at).value
    assert value_lattice(convertible(5, call=SOFT_CALL), at.with_spot(12.0)).value < (
        value_lattice(convertible(5), at.with_spot(12.0)).value
    )


@pytest.mark.parametrize(
    ("clauses", "spot"),
    [({}, 7.0), ({}, 12.0), ({"call": SOFT_CALL}, 10.0), ({"call": SOFT_CALL}, 12.0)],
)
def test_lsmc_agrees_with_the_lattice_on_clauses_both_price(clauses, spot):
    terms = convertible(2, **clauses)
    at = market(spot=spot, valuation_date=datetime.date(2025, 3, 3))
    mc = value_lsmc(terms, at, paths=4096, seed=7)
    days = round((terms.maturity_date - at.valuation_date).days / 365 * 244)
    lattice = value_lattice(terms, at, days)
    assert abs(mc.value - lattice.value) < 3 * mc.standard_error + 0.002 * lattice.value
    assert mc.delta == pytest.approx(lattice.delta, rel=0.1)
    assert mc.bond_floor == lattice.bond_floor and mc.parity == lattice.parity


def test_lsmc_is_deterministic_for_a_seed():
    terms, at = convertible(1), market(valuation_date=datetime.date(2025, 6, 2))
    first = value_lsmc(terms, at, paths=512, seed=3)
    assert value_lsmc(terms, at, paths=512, seed=3) == first
    assert value_lsmc(terms, at, paths=512, seed=4).value != first.value


def test_path_dependent_clauses_move_the_value_the_right_way():
    at = market(spot=9.0, valuation_date=datetime.date(2027, 1, 4))
    kwargs = dict(paths=2048, seed=11, bump=0.05)
    quick_call = value_lsmc(convertible(4, call=SOFT_CALL), at, **kwargs).value
    slow_call = CallClause(ratio=130_000_000, days=15, window=30)
    assert value_lsmc(convertible(4, call=slow_call), at, **kwargs).value > quick_call
    revision = RevisionClause(ratio=85_000_000, days=15, window=30)
    with_revision = convertible(4, revision=revision)
    never = value_lsmc(with_revision, at, revision_policy="never", **kwargs).value
    always = value_lsmc(with_revision, at, revision_policy="always", **kwargs).value
    assert always > never + 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Market(0.0, 0.3, 0.02, 0.03, datetime.date(2025, 1, 15)), "spot 0.0 must be"),
        (lambda: market(volatility=-0.1), "volatility -0.1 must not be negative"),
        (lambda: value_lattice(convertible(), market(valuation_date=datetime.date(2031, 1, 15))),
         "valuation_date 2031-01-15 is outside the bond's life"),
        (lambda: value_lattice(convertible(), market(), discounting="flat"),
         "discounting 'flat' is not one of tf, blended"),
        (lambda: value_lsmc(convertible(), market(), revision_policy="sometimes"),
         "revision_policy 'sometimes' is not one of never, always, put_period"),
    ],
)  # fmt: skip
def test_bad_valuation_inputs_are_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bond_floor_discounts_each_cashflow_at_rate_plus_spread():
    terms, at = convertible(1), market()
    expected = (100 * 1.06 + 2.0) * math.exp(-0.05 * 365 / 365)
    assert bond_floor(terms, at) == pytest.approx(expected, rel=1e-12)
