"""The lattice against QuantLib's binomial convertible engine and fixed-rate bond (the oracle).

Run this file as a script to print the comparison table in docs/instruments.md:
    python tests/instruments/test_convertible_oracle.py
"""

from __future__ import annotations

import datetime
import itertools

import pytest
from builders import ISSUE, convertible, market, quantlib_convertible, quantlib_fixed_bond

from instruments.convertible_lattice import value_lattice
from instruments.terms import CallClause, PutClause
from instruments.valuation import bond_floor

ql = pytest.importorskip("QuantLib")

STEPS = 800
CLAUSES = {
    "plain": {},
    "soft call 130%": {"call": CallClause(ratio=130_000_000, days=1, window=1)},
    "put 103%, last year": {
        "put": PutClause(ratio=10**12, days=1, window=1, years=1, price=103_000_000)
    },
}
GRID = {"spot": (7.0, 10.0, 14.0), "vol": (0.2, 0.4), "spread": (0.01, 0.04), "years": (2, 5)}
WIDE_GRID = {
    "spot": (4.0, 7.0, 10.0, 13.0, 20.0),
    "vol": (0.1, 0.25, 0.4, 0.6),
    "spread": (0.0, 0.02, 0.05),
    "years": (2, 3, 6),  # longer than the put period: QuantLib drops a put on the valuation date
}


def comparisons(grid: dict, steps: int = STEPS):
    """Yield (clauses, spot, vol, spread, years, tf, blended, quantlib) over the grid."""
    for name, clauses in CLAUSES.items():
        for spot, vol, spread, years in itertools.product(*grid.values()):
            terms = convertible(years, **clauses)
            at = market(spot=spot, volatility=vol, credit_spread=spread)
            yield (
                name, spot, vol, spread, years,
                value_lattice(terms, at, steps).value,
                value_lattice(terms, at, steps, discounting="blended").value,
                quantlib_convertible(ql, terms, at, steps),
            )  # fmt: skip


def _worst(rows: list, clauses: set[str]) -> tuple[float, float]:
    """Return the worst relative gap of the blended lattice, and of TF at zero spread."""
    rows = [row for row in rows if row[0] in clauses]
    blended = max(abs(row[6] / row[7] - 1) for row in rows)
    zero_spread_tf = max((abs(row[5] / row[7] - 1) for row in rows if row[3] == 0), default=0)
    return blended, zero_spread_tf


def test_blended_lattice_is_within_half_a_percent_of_quantlib():
    blended, _ = _worst(list(comparisons(GRID)), set(CLAUSES))
    assert blended < 0.005


@pytest.mark.slow
def test_wide_sweep_against_quantlib():
    rows = list(comparisons(WIDE_GRID))
    assert max(_worst(rows, {"plain", "put 103%, last year"})) < 0.005
    # With a soft call at 60% volatility over 6 years QuantLib's own value moves by 0.8% between
    # 800 and 2000 steps (the trigger sits between nodes), so the bound there is that noise.
    assert max(_worst(rows, {"soft call 130%"})) < 0.01


@pytest.mark.parametrize("spot", [6.0, 10.0, 15.0])
def test_without_credit_spread_tf_and_blended_discounting_agree_and_match_quantlib(spot):
    terms = convertible(4, call=CallClause(ratio=130_000_000, days=1, window=1))
    at = market(spot=spot, credit_spread=0.0)
    tf = value_lattice(terms, at, STEPS).value
    assert tf == pytest.approx(value_lattice(terms, at, STEPS, "blended").value, rel=1e-12)
    assert tf == pytest.approx(quantlib_convertible(ql, terms, at, STEPS), rel=0.005)


@pytest.mark.parametrize("spread", [0.0, 0.015, 0.06])
@pytest.mark.parametrize("on", [ISSUE, datetime.date(2027, 7, 1), datetime.date(2030, 12, 1)])
@pytest.mark.parametrize("included", [False, True])
def test_bond_floor_equals_quantlib_fixed_rate_bond(spread, on, included):
    terms = convertible(redemption_includes_last_coupon=included)
    at = market(credit_spread=spread, valuation_date=on)
    expected = quantlib_fixed_bond(ql, terms, at)
    if included:  # QuantLib pays the last coupon on top; take it out
        expected -= 2.0 * ql.YieldTermStructureHandle(
            ql.FlatForward(
                ql.Date(on.day, on.month, on.year), 0.02 + spread, ql.Actual365Fixed(),
                ql.Continuous, ql.NoFrequency,
            )
        ).discount(ql.Date(15, 1, 2031))  # fmt: skip
    assert bond_floor(terms, at) == pytest.approx(expected, rel=1e-4)


def main() -> None:
    """Print the comparison table (markdown) over the default grid."""
    print("| clauses | spot | vol | spread | years | TF lattice | blended lattice | QuantLib "
          "| blended vs QL | TF vs QL |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, spot, vol, spread, years, tf, blended, quantlib in comparisons(GRID):
        print(
            f"| {name} | {spot:g} | {vol:g} | {spread:g} | {years} | {tf:.4f} | {blended:.4f} "
            f"| {quantlib:.4f} | {blended / quantlib - 1:+.3%} | {tf / quantlib - 1:+.3%} |"
        )


if __name__ == "__main__":
    main()
