"""Preferred share valuation: discounted dividends with the issuer's call and dividend arrears.

A backward induction over the annual dividend dates from the valuation date to a horizon. Each
year the dividend D (par x rate; for a floating share the benchmark is the annual equivalent of
the risk-free rate) is paid with probability 1 - p together with all arrears, or skipped with
probability p (added to the arrears if cumulative, lost if not). On a call date the issuer
redeems when the call price plus arrears plus the year's dividend is below the value of keeping
the share. Cash is discounted at rate + spread. Beyond the horizon the share is valued as an
uncallable perpetuity. Floats: CNY per share, continuously compounded decimal rates.
"""

from __future__ import annotations

import dataclasses
import datetime
import math

import numpy as np

from instruments.terms import RATE_SCALE, UNITS_PER_CNY, PreferredTerms, add_years

DEFAULT_HORIZON_YEARS = 100


@dataclasses.dataclass(frozen=True)
class PreferredValue:
    """A preferred share's value and its parts, CNY per share."""

    value: float  # with the issuer's call
    straight_value: float  # the same share if it could not be called
    call_option: float  # straight_value - value: what the call is worth to the issuer
    arrears_value: float  # what the arrears outstanding today add to the value
    dividend: float  # this year's dividend, CNY per share
    duration: float  # -(dV/dy) / V, years: sensitivity to the discount rate

    def as_dict(self) -> dict[str, float]:
        """Return the fields as a plain dict (for JSON output)."""
        return dataclasses.asdict(self)


def _value(
    terms: PreferredTerms,
    discount: float,
    dividend: float,
    on: datetime.date,
    arrears: float,
    skip_probability: float,
    horizon: int,
    callable_: bool,
) -> float:
    """Return the value at `on` for a yearly discount rate `discount` (continuous)."""
    first = next(k for k in range(1, horizon + 2) if add_years(terms.issue_date, k) > on)
    dates = [add_years(terms.issue_date, k) for k in range(first, first + horizon)]
    times = np.array([(d - on).days / 365.0 for d in dates] + [(dates[-1] - on).days / 365.0 + 1])
    growth = 1.0 if terms.cumulative else 0.0
    count = np.arange(horizon + 2)
    owed = np.stack([count * dividend * growth, arrears + count * dividend * growth])
    p = skip_probability
    paid_share = 1.0 if terms.cumulative else 1.0 - p
    value = owed + paid_share * dividend / -math.expm1(-discount)  # cum-dividend perpetuity
    call = terms.par / UNITS_PER_CNY * terms.call_price / RATE_SCALE
    for i in range(horizon - 1, -1, -1):
        continuation = value * math.exp(-discount * (times[i + 1] - times[i]))
        skipped = np.concatenate([continuation[:, 1:], continuation[:, -1:]], axis=1)
        value = (1 - p) * (owed + dividend + continuation[0, 0]) + p * skipped
        if callable_ and terms.call_date is not None and dates[i] >= terms.call_date:
            value = np.minimum(value, call + owed + dividend)
    return float(value[1, 0] * math.exp(-discount * times[0]))


def value_preferred(
    terms: PreferredTerms,
    rate: float,
    spread: float,
    valuation_date: datetime.date,
    arrears: int = 0,
    skip_probability: float = 0.0,
    horizon_years: int = DEFAULT_HORIZON_YEARS,
) -> PreferredValue:
    """Value a preferred share; `arrears` are the unpaid dividends per share today (units)."""
    if valuation_date < terms.issue_date:
        raise ValueError(f"valuation_date {valuation_date} is before issue {terms.issue_date}")
    if not 0.0 <= skip_probability < 1.0:
        raise ValueError(f"skip_probability {skip_probability} must be in [0, 1)")
    if arrears < 0 or (arrears and not terms.cumulative):
        raise ValueError(f"arrears {arrears} must be >= 0, and 0 for a non-cumulative share")
    if horizon_years < 1:
        raise ValueError(f"horizon_years {horizon_years} must be at least 1")
    benchmark = math.expm1(rate) if terms.floating else 0.0
    dividend = terms.par / UNITS_PER_CNY * max(terms.dividend_rate / RATE_SCALE + benchmark, 0.0)
    owed = arrears / UNITS_PER_CNY
    discount = rate + spread

    def at(discount: float, owed: float, callable_: bool = True) -> float:
        return _value(
            terms, discount, dividend, valuation_date, owed, skip_probability, horizon_years,
            callable_,
        )  # fmt: skip

    value = at(discount, owed)
    bp = 1e-4
    return PreferredValue(
        value=value,
        straight_value=at(discount, owed, callable_=False),
        call_option=at(discount, owed, callable_=False) - value,
        arrears_value=value - at(discount, 0.0),
        dividend=dividend,
        duration=-(at(discount + bp, owed) - at(discount - bp, owed)) / (2 * bp * value),
    )
