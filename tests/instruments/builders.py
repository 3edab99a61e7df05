"""Builders for the instruments tests, and QuantLib (a test extra) as the valuation oracle."""

from __future__ import annotations

import dataclasses
import datetime

import numpy as np

from instruments.terms import RATE_SCALE, UNITS_PER_CNY, ConvertibleTerms, PreferredTerms
from instruments.valuation import Market, accrued

ISSUE = datetime.date(2025, 1, 15)
STEP_UP = (300_000, 500_000, 1_000_000, 1_500_000, 1_800_000, 2_000_000)  # 0.3% .. 2.0%


def convertible(years: int = 6, **overrides) -> ConvertibleTerms:
    """Return a plain convertible (conversion price 10 CNY, 106% redemption), terms overridden."""
    fields = dict(
        symbol="TB1001",
        name="test convertible",
        underlying="TB0001",
        issue_date=ISSUE,
        maturity_date=ISSUE.replace(year=ISSUE.year + years),
        coupons=STEP_UP[-years:],
        conversion_price=100_000,
        issue_size=1_000_000,
        redemption=106_000_000,
    )
    return ConvertibleTerms(**(fields | overrides))


def preferred(**overrides) -> PreferredTerms:
    """Return a 5% cumulative preferred share, terms overridden."""
    fields = dict(
        symbol="TB2001",
        name="test preferred",
        issuer="TB0001",
        issue_date=ISSUE,
        dividend_rate=5_000_000,
        shares_issued=1_000_000,
    )
    return PreferredTerms(**(fields | overrides))


def market(**overrides) -> Market:
    """Return spot 10 CNY, 30% volatility, 2% rate, 3% spread, valued at issue."""
    fields = dict(spot=10.0, volatility=0.3, rate=0.02, credit_spread=0.03, valuation_date=ISSUE)
    return dataclasses.replace(Market(**fields), **overrides)


def _date(ql, day: datetime.date):
    return ql.Date(day.day, day.month, day.year)


def quantlib_convertible(ql, terms: ConvertibleTerms, at: Market, steps: int) -> float:
    """Value `terms` with QuantLib's BinomialConvertibleEngine (CRR) under the same inputs.

    Calls and puts are laid on every calendar day of their window as dirty prices computed with
    our accrual (QuantLib's soft-call trigger is relative to redemption / conversion ratio, so it
    is rescaled); QuantLib ignores a callability on the evaluation date itself.
    """
    today = _date(ql, at.valuation_date)
    ql.Settings.instance().evaluationDate = today
    day_count = ql.Actual365Fixed()
    face = terms.face / UNITS_PER_CNY
    ratio = face / (terms.conversion_price / UNITS_PER_CNY)
    redemption = 100.0 * terms.redemption / RATE_SCALE
    callability = ql.CallabilitySchedule()
    day = max(at.valuation_date, terms.conversion_start) + datetime.timedelta(days=1)
    while day <= terms.maturity_date and (terms.call or terms.put):
        years = np.array([(day - at.valuation_date).days / 365.0])
        dirty = face + float(accrued(terms, at.valuation_date, years)[0])
        if terms.call:
            trigger = terms.call.ratio / RATE_SCALE * face / redemption
            price = ql.BondPrice(dirty * terms.call.price / RATE_SCALE, ql.BondPrice.Dirty)
            callability.append(ql.SoftCallability(price, _date(ql, day), trigger))
        if terms.put and day >= terms.put_start:
            price = ql.BondPrice(dirty * terms.put.price / RATE_SCALE, ql.BondPrice.Dirty)
            callability.append(ql.Callability(price, ql.Callability.Put, _date(ql, day)))
        day += datetime.timedelta(days=1)
    schedule = _schedule(ql, terms)
    bond = ql.ConvertibleFixedCouponBond(
        ql.AmericanExercise(_date(ql, terms.conversion_start), _date(ql, terms.maturity_date)),
        ratio,
        callability,
        _date(ql, terms.issue_date),
        0,
        [rate / RATE_SCALE for rate in terms.coupons],
        ql.Thirty360(ql.Thirty360.BondBasis),
        schedule,
        redemption,
    )
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(at.spot)),
        _flat(ql, today, at.dividend_yield),
        _flat(ql, today, at.rate),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), at.volatility, day_count)
        ),
    )
    spread = ql.QuoteHandle(ql.SimpleQuote(at.credit_spread))
    bond.setPricingEngine(ql.BinomialConvertibleEngine(process, "crr", steps, spread))
    return bond.NPV()


def quantlib_fixed_bond(ql, terms: ConvertibleTerms, at: Market) -> float:
    """Price the straight bond with QuantLib's FixedRateBond on a flat rate + spread curve."""
    today = _date(ql, at.valuation_date)
    ql.Settings.instance().evaluationDate = today
    bond = ql.FixedRateBond(
        0,
        100.0,
        _schedule(ql, terms),
        [rate / RATE_SCALE for rate in terms.coupons],
        ql.Thirty360(ql.Thirty360.BondBasis),
        ql.Unadjusted,
        100.0 * terms.redemption / RATE_SCALE,
    )
    curve = _flat(ql, today, at.rate + at.credit_spread)
    bond.setPricingEngine(ql.DiscountingBondEngine(curve))
    return bond.dirtyPrice()


def _schedule(ql, terms: ConvertibleTerms):
    return ql.Schedule(
        _date(ql, terms.issue_date),
        _date(ql, terms.maturity_date),
        ql.Period(ql.Annual),
        ql.NullCalendar(),
        ql.Unadjusted,
        ql.Unadjusted,
        ql.DateGeneration.Backward,
        False,
    )


def _flat(ql, today, rate: float):
    curve = ql.FlatForward(today, rate, ql.Actual365Fixed(), ql.Continuous, ql.NoFrequency)
    return ql.YieldTermStructureHandle(curve)
