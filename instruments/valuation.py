"""Valuation inputs and outputs shared by the lattice and Monte Carlo convertible pricers.

Valuation is the one place floats are used: amounts are CNY per bond, times are years of 365 days
from the valuation date, rates are continuously compounded annual decimals (0.02 = 2%).
"""

from __future__ import annotations

import dataclasses
import datetime
import math

import numpy as np

from instruments.terms import RATE_SCALE, UNITS_PER_CNY, ConvertibleTerms

DAYS_PER_YEAR = 365.0


@dataclasses.dataclass(frozen=True)
class Market:
    """Market inputs for a valuation."""

    spot: float  # share price, CNY
    volatility: float  # annual volatility of the share, decimal
    rate: float  # risk-free rate, continuously compounded, decimal
    credit_spread: float  # issuer's spread over `rate`, continuously compounded, decimal
    valuation_date: datetime.date
    dividend_yield: float = 0.0  # continuous dividend yield of the share, decimal

    def __post_init__(self) -> None:
        if not self.spot > 0:
            raise ValueError(f"spot {self.spot} must be positive")
        if not self.volatility >= 0:
            raise ValueError(f"volatility {self.volatility} must not be negative")
        if not self.credit_spread >= 0:
            raise ValueError(f"credit_spread {self.credit_spread} must not be negative")

    def with_spot(self, spot: float) -> Market:
        """Return the same market with another share price."""
        return dataclasses.replace(self, spot=spot)


@dataclasses.dataclass(frozen=True)
class ConvertibleValue:
    """A convertible bond's value and its parts, CNY per bond of 100 CNY face."""

    method: str  # "lattice" or "lsmc"
    value: float  # dirty value
    bond_floor: float  # coupons and redemption discounted at rate + spread
    parity: float  # conversion value: shares per bond x spot
    premium: float  # value / parity - 1
    delta: float  # d value / d spot, CNY per CNY of share price
    gamma: float  # d delta / d spot
    equity_part: float  # Tsiveriotis-Fernandes part paid in shares, discounted at rate
    debt_part: float  # part paid in cash, discounted at rate + spread
    standard_error: float = 0.0  # Monte Carlo standard error of `value` (0 for the lattice)

    def as_dict(self) -> dict[str, float | str]:
        """Return the fields as a plain dict (for JSON output)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ConvertibleGrid:
    """A convertible's clauses on a grid of `steps` equal steps from valuation date to maturity."""

    maturity: float  # years
    dt: float  # years per step
    face: float  # CNY per bond
    conversion_price: float  # CNY per share, as of the valuation date
    terminal: float  # CNY at maturity: redemption and any coupon paid with it
    coupon: np.ndarray  # (steps+1,) coupons CNY, each discounted at rate+spread to its step
    convertible: np.ndarray  # (steps+1,) bool: conversion allowed at the step
    call_price: np.ndarray  # (steps+1,) CNY with accrued, NaN where the issuer may not call
    put_price: np.ndarray  # (steps+1,) CNY with accrued, NaN outside the put period
    interest_year: np.ndarray  # (steps+1,) int: index of the interest year the step lies in

    @property
    def steps(self) -> int:
        """Return the number of time steps."""
        return len(self.coupon) - 1


def _years(start: datetime.date, end: datetime.date) -> float:
    return (end - start).days / DAYS_PER_YEAR


def cashflows(terms: ConvertibleTerms, on: datetime.date) -> tuple[np.ndarray, np.ndarray]:
    """Return the straight bond's future payment times (years) and amounts (CNY per bond)."""
    face = terms.face / UNITS_PER_CNY
    dates = terms.coupon_dates
    amounts = [face * rate / RATE_SCALE for rate in terms.coupons]
    if terms.redemption_includes_last_coupon:
        amounts[-1] = 0.0
    amounts[-1] += face * terms.redemption / RATE_SCALE
    future = [(_years(on, d), a) for d, a in zip(dates, amounts, strict=True) if d > on]
    times, values = zip(*future, strict=True) if future else ((), ())
    return np.array(times, dtype=float), np.array(values, dtype=float)


def bond_floor(terms: ConvertibleTerms, market: Market) -> float:
    """Return the straight bond value: coupons and redemption discounted at rate + spread."""
    times, amounts = cashflows(terms, market.valuation_date)
    return float(np.sum(amounts * np.exp(-(market.rate + market.credit_spread) * times)))


def parity(terms: ConvertibleTerms, spot: float) -> float:
    """Return the conversion value of one bond at share price `spot` (CNY)."""
    return terms.face / terms.conversion_price * spot


def accrued(terms: ConvertibleTerms, on: datetime.date, times: np.ndarray) -> np.ndarray:
    """Return accrued interest (CNY per bond) at `times` years after `on`, by the day count."""
    starts = np.array([_years(on, terms.issue_date)] + [_years(on, d) for d in terms.coupon_dates])
    year = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(terms.coupons) - 1)
    elapsed = times - starts[year]
    if terms.day_count == "ACT/ACT":
        elapsed = elapsed / (starts[year + 1] - starts[year])
    rates = np.array(terms.coupons, dtype=float)[year] / RATE_SCALE
    return terms.face / UNITS_PER_CNY * rates * elapsed


def convertible_grid(terms: ConvertibleTerms, market: Market, steps: int) -> ConvertibleGrid:
    """Lay the terms on `steps` equal time steps from the valuation date to maturity."""
    on = market.valuation_date
    if not terms.issue_date <= on < terms.maturity_date:
        raise ValueError(
            f"valuation_date {on} is outside the bond's life "
            f"{terms.issue_date}..{terms.maturity_date}"
        )
    if steps < 1:
        raise ValueError(f"steps {steps} must be at least 1")
    maturity = _years(on, terms.maturity_date)
    dt = maturity / steps
    times = np.arange(steps + 1) * dt
    eps = 1e-9
    flow_times, amounts = cashflows(terms, on)
    coupon = np.zeros(steps + 1)
    index = np.minimum(np.floor(flow_times / dt + eps).astype(int), steps)
    early = flow_times - index * dt  # paid this long after its step: discount it to the step
    np.add.at(coupon, index, amounts * np.exp(-(market.rate + market.credit_spread) * early))
    terminal = float(coupon[steps])
    coupon[steps] = 0.0
    face = terms.face / UNITS_PER_CNY
    with_accrued = face + accrued(terms, on, times)
    convertible = times >= _years(on, terms.conversion_start) - eps
    call_price = np.full(steps + 1, np.nan)
    if terms.call is not None:
        call_price[convertible] = (with_accrued * terms.call.price / RATE_SCALE)[convertible]
    put_price = np.full(steps + 1, np.nan)
    if terms.put is not None:
        in_put = times >= _years(on, terms.put_start) - eps
        put_price[in_put] = (with_accrued * terms.put.price / RATE_SCALE)[in_put]
    starts = np.array([_years(on, d) for d in terms.coupon_dates])
    return ConvertibleGrid(
        maturity=maturity,
        dt=dt,
        face=face,
        conversion_price=terms.conversion_price / UNITS_PER_CNY,
        terminal=terminal,
        coupon=coupon,
        convertible=convertible,
        call_price=call_price,
        put_price=put_price,
        interest_year=np.searchsorted(starts, times + eps, side="right"),
    )


def summarise(
    method: str,
    terms: ConvertibleTerms,
    market: Market,
    value: float,
    delta: float,
    gamma: float,
    equity_part: float,
    standard_error: float = 0.0,
) -> ConvertibleValue:
    """Return a ConvertibleValue with the floor, parity and premium filled in."""
    conversion_value = parity(terms, market.spot)
    return ConvertibleValue(
        method=method,
        value=value,
        bond_floor=bond_floor(terms, market),
        parity=conversion_value,
        premium=value / conversion_value - 1.0 if conversion_value > 0 else math.inf,
        delta=delta,
        gamma=gamma,
        equity_part=equity_part,
        debt_part=value - equity_part,
        standard_error=standard_error,
    )
