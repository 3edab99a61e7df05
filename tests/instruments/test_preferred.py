"""Preferred share valuation: perpetuity, the issuer's call, arrears and skipped dividends."""

from __future__ import annotations

import datetime
import math

import pytest
from builders import ISSUE, preferred

from instruments.preferred import value_preferred
from instruments.terms import add_years


def _times(years: int) -> list[float]:
    return [(add_years(ISSUE, k) - ISSUE).days / 365 for k in range(1, years + 1)]


def test_uncallable_share_is_a_perpetuity_of_its_dividend():
    result = value_preferred(preferred(), 0.02, 0.03, ISSUE)
    longer = value_preferred(preferred(), 0.02, 0.03, ISSUE, horizon_years=300)
    assert result.value == pytest.approx(longer.value, rel=1e-5)
    assert result.value == pytest.approx(5.0 / math.expm1(0.05), rel=2e-3)  # leap days aside
    assert result.call_option == 0.0 and result.dividend == 5.0


def test_issuer_calls_on_the_first_date_when_money_is_cheap():
    terms = preferred(call_date=datetime.date(2030, 1, 15))
    result = value_preferred(terms, 0.01, 0.0, ISSUE)
    times = _times(5)
    expected = sum(5.0 * math.exp(-0.01 * t) for t in times) + 100 * math.exp(-0.01 * times[-1])
    assert result.value == pytest.approx(expected, rel=1e-12)
    assert result.call_option > 0 and result.duration < result.value / 5


def test_arrears_are_paid_on_the_next_dividend_date():
    result = value_preferred(preferred(), 0.02, 0.03, ISSUE, arrears=120_000)
    assert result.arrears_value == pytest.approx(12.0 * math.exp(-0.05 * _times(1)[0]))


def test_skipped_dividends_cost_a_non_cumulative_holder_more():
    cumulative = value_preferred(preferred(), 0.02, 0.03, ISSUE, skip_probability=0.2).value
    lost = value_preferred(preferred(cumulative=False), 0.02, 0.03, ISSUE, skip_probability=0.2)
    paid = value_preferred(preferred(), 0.02, 0.03, ISSUE).value
    assert lost.value < cumulative < paid
    assert lost.value == pytest.approx(0.8 * paid, rel=1e-9)


def test_floating_dividend_follows_the_rate():
    terms = preferred(floating=True, dividend_rate=1_000_000)  # benchmark + 1%
    assert value_preferred(terms, 0.03, 0.01, ISSUE).dividend == pytest.approx(
        100 * (math.expm1(0.03) + 0.01)
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"skip_probability": 1.0}, "skip_probability 1.0 must be in"),
        ({"valuation_date": datetime.date(2024, 1, 1)}, "valuation_date 2024-01-01 is before"),
        ({"arrears": -1}, "arrears -1 must be >= 0"),
    ],
)
def test_bad_preferred_inputs_are_rejected(kwargs, message):
    arguments = {"valuation_date": ISSUE} | kwargs
    with pytest.raises(ValueError, match=message):
        value_preferred(preferred(), 0.02, 0.03, **arguments)
