"""Convertible bond by least-squares Monte Carlo with path-dependent clauses (docs/instruments.md).

Daily share paths (244 trading days a year, antithetic normals from a seeded numpy Generator)
carry the clause state a lattice cannot: the M-of-N day windows of the soft call, the put and the
downward revision, the conversion price after revisions, the once-a-year put. A numba kernel walks
each path forward and records, per day, the conversion value and whether the put is open, and the
day the issuer calls (the issuer calls on the first day the trigger is met; holders then convert
if that is worth more than the call price). The holder's choices (convert, put) are then found
backwards by Longstaff-Schwartz regression of the realised continuation value on a cubic in the
conversion value. As in the lattice, share-settled value is discounted at r and cash at r + spread.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from instruments.terms import RATE_SCALE, UNITS_PER_CNY, ConvertibleTerms
from instruments.valuation import (
    ConvertibleGrid,
    ConvertibleValue,
    Market,
    convertible_grid,
    summarise,
)

TRADING_DAYS_PER_YEAR = 244
DEFAULT_PATHS = 8192
REVISION_POLICIES = ("never", "always", "put_period")
NEVER = 1 << 30  # "no such day"
MIN_REGRESSION_PATHS = 16  # fewer deciding paths: decide on the realised continuation


@njit(cache=True)
def _count(window, position, hit):
    """Push `hit` into a ring buffer `window` at `position`; return the change in its count."""
    old = window[position]
    window[position] = hit
    return hit - old


@njit(cache=True)
def _simulate(
    z, s0, drift, sigma, face, cp0, call_days, call_window, call_ratio, call_open,
    put_days, put_window, put_ratio, put_open, interest_year,
    rev_days, rev_window, rev_ratio, rev_open, rev_average, rev_floor,
):  # fmt: skip
    """Walk every path forward; return conversion values, put-open flags and call days."""
    steps, half = z.shape
    paths = 2 * half
    conversion = np.zeros((steps + 1, paths), dtype=np.float32)
    put_ok = np.zeros((steps + 1, paths), dtype=np.bool_)
    call_day = np.full(paths, NEVER, dtype=np.int64)
    calls = np.zeros(max(call_window, 1), dtype=np.int64)
    puts = np.zeros(max(put_window, 1), dtype=np.int64)
    revs = np.zeros(max(rev_window, 1), dtype=np.int64)
    closes = np.zeros(max(rev_average, 1))
    for path in range(paths):
        sign = 1.0 if path < half else -1.0
        column = path % half
        s, cp = s0, cp0
        calls[:] = 0
        puts[:] = 0
        revs[:] = 0
        closes[:] = s0
        n_call = n_put = n_rev = 0
        total = s0 * len(closes)
        put_used_year = -1
        for day in range(steps + 1):
            if day > 0:
                s *= math.exp(drift + sigma * sign * z[day - 1, column])
            total += s - closes[day % len(closes)]
            closes[day % len(closes)] = s
            if rev_window > 0 and rev_open[day]:
                n_rev += _count(revs, day % rev_window, s < rev_ratio * cp)
                if n_rev >= rev_days:
                    revised = max(total / len(closes), s, rev_floor)
                    revised = math.ceil(revised * 100.0 - 1e-9) / 100.0
                    if revised < cp:
                        cp = revised
                        puts[:] = 0
                        n_put = 0
                    revs[:] = 0
                    n_rev = 0
            conversion[day, path] = face / cp * s
            if put_window > 0 and put_open[day]:
                n_put += _count(puts, day % put_window, s < put_ratio * cp)
                if n_put >= put_days and interest_year[day] != put_used_year:
                    put_ok[day, path] = True
                    put_used_year = interest_year[day]
                    puts[:] = 0
                    n_put = 0
            if call_window > 0 and call_open[day]:
                n_call += _count(calls, day % call_window, s >= call_ratio * cp)
                if n_call >= call_days:
                    call_day[path] = day
                    break
    return conversion, put_ok, call_day


def _basis(x: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(x), x, x * x, x * x * x], axis=1)


def _rollback(
    grid: ConvertibleGrid,
    market: Market,
    conversion: np.ndarray,
    put_ok: np.ndarray,
    call_day: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Find the holder's choices backwards; return each path's equity and cash parts at t = 0."""
    steps = grid.steps
    disc_equity = math.exp(-market.rate * grid.dt)
    disc_debt = math.exp(-(market.rate + market.credit_spread) * grid.dt)
    equity = np.zeros(conversion.shape[1])
    cash = np.full(conversion.shape[1], grid.terminal)
    straight = grid.terminal  # the straight bond's value on the day: holding is worth at least it
    for day in range(steps, -1, -1):
        if day < steps:
            equity *= disc_equity
            cash *= disc_debt
            straight *= disc_debt
        value = conversion[day].astype(float)
        called = call_day == day
        if called.any():
            to_shares = called & (value >= grid.call_price[day])
            to_cash = called & ~to_shares
            equity[to_shares], cash[to_shares] = value[to_shares], 0.0
            equity[to_cash], cash[to_cash] = 0.0, grid.call_price[day]
        cash += grid.coupon[day]
        straight += grid.coupon[day]
        alive = call_day > day
        put_worth = grid.put_price[day] > np.maximum(value, straight)
        put_value = np.where(alive & put_ok[day] & put_worth, grid.put_price[day], -np.inf)
        convert_value = np.where(alive & grid.convertible[day] & (value > straight), value, -np.inf)
        exercise = np.maximum(put_value, convert_value)
        deciding = np.isfinite(exercise)
        if not deciding.any():
            continue
        estimate = equity + cash
        if day < steps and deciding.sum() > MIN_REGRESSION_PATHS:
            basis = _basis(value[deciding] / grid.face)
            coefficients = np.linalg.lstsq(basis, estimate[deciding], rcond=None)[0]
            estimate = estimate.copy()
            estimate[deciding] = basis @ coefficients
        stop = deciding & (exercise > estimate)
        shares = stop & (convert_value >= put_value)
        equity[stop], cash[stop] = np.where(shares, value, 0.0)[stop], 0.0
        cash[stop & ~shares] = put_value[stop & ~shares]
    return equity, cash


def _lsmc_once(
    terms: ConvertibleTerms,
    market: Market,
    paths: int,
    seed: int,
    revision_policy: str,
) -> tuple[float, float, float]:
    """Return (value, equity part, standard error) from one seeded simulation."""
    years = (terms.maturity_date - market.valuation_date).days / 365.0
    grid = convertible_grid(terms, market, max(1, round(years * TRADING_DAYS_PER_YEAR)))
    steps = grid.steps
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((steps, paths // 2), dtype=np.float32)
    call, put, revision = terms.call, terms.put, terms.revision
    never = np.zeros(steps + 1, dtype=bool)
    in_put = ~np.isnan(grid.put_price)
    revision_open = {
        "never": never,
        "always": np.ones(steps + 1, dtype=bool),
        "put_period": in_put,
    }[revision_policy]
    conversion, put_ok, call_day = _simulate(
        z, market.spot,
        (market.rate - market.dividend_yield - 0.5 * market.volatility**2) * grid.dt,
        market.volatility * math.sqrt(grid.dt), grid.face, grid.conversion_price,
        call.days if call else 0, call.window if call else 0,
        call.ratio / RATE_SCALE if call else 0.0, grid.convertible if call else never,
        put.days if put else 0, put.window if put else 0,
        put.ratio / RATE_SCALE if put else 0.0, in_put, grid.interest_year,
        revision.days if revision else 0, revision.window if revision else 0,
        revision.ratio / RATE_SCALE if revision else 0.0,
        revision_open if revision else never, revision.average_days if revision else 1,
        revision.floor_price / UNITS_PER_CNY if revision else 0.0,
    )  # fmt: skip
    equity, cash = _rollback(grid, market, conversion, put_ok, call_day)
    total = equity + cash
    half = paths // 2
    pairs = 0.5 * (total[:half] + total[half:])
    return float(total.mean()), float(equity.mean()), float(pairs.std(ddof=1) / math.sqrt(half))


def value_lsmc(
    terms: ConvertibleTerms,
    market: Market,
    paths: int = DEFAULT_PATHS,
    seed: int = 0,
    revision_policy: str = "never",
    bump: float = 0.05,
) -> ConvertibleValue:
    """Value the bond by least-squares Monte Carlo; the same seed gives the same result.

    `revision_policy` says when the issuer revises the conversion price down once the revision
    trigger is met: "never", "always", or only in the put period ("put_period", to avoid puts).
    Delta and gamma come from revaluing at spot x (1 -+ bump) with the same random numbers.
    """
    if revision_policy not in REVISION_POLICIES:
        raise ValueError(
            f"revision_policy {revision_policy!r} is not one of {', '.join(REVISION_POLICIES)}"
        )
    if paths < 64 or paths % 2:
        raise ValueError(f"paths {paths} must be an even number of at least 64")
    value, equity_part, error = _lsmc_once(terms, market, paths, seed, revision_policy)
    h = market.spot * bump
    down, up = (
        _lsmc_once(terms, market.with_spot(spot), paths, seed, revision_policy)[0]
        for spot in (market.spot - h, market.spot + h)
    )
    return summarise(
        "lsmc",
        terms,
        market,
        value,
        (up - down) / (2 * h),
        (up - 2 * value + down) / (h * h),
        equity_part,
        standard_error=error,
    )
