"""Convertible bond on a binomial lattice, Tsiveriotis-Fernandes split (docs/instruments.md).

The share follows a recombining binomial tree with nodes S0 exp(nu i dt + sigma (2j - i) sqrt(dt)),
nu = r - q - sigma^2/2, and the martingale up probability p = (exp((r-q)dt) - d) / (u - d), so
zero volatility is a single deterministic path. The bond value V = E + B is rolled back in two
parts: E, the part that will be paid in shares, discounted at r; B, the part paid in cash
(coupons, redemption, call and put prices), discounted at r + credit spread. At each step the
clauses are applied in QuantLib's order: issuer call (soft call: only where the share is at or
above the trigger), holder put (only where the share is below the put trigger), coupons, then
conversion.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from instruments.terms import RATE_SCALE, ConvertibleTerms
from instruments.valuation import ConvertibleValue, Market, convertible_grid, summarise

DEFAULT_STEPS = 1000
DISCOUNTING = ("tf", "blended")


@njit(cache=True)
def _apply_clauses(
    s, e, b, prob, ratio, coupon, convertible, call_price, call_level, put_price, put_level
):  # fmt: skip
    """Apply call, put, coupon and conversion to one time slice in place."""
    for j in range(len(s)):
        conversion = ratio * s[j]
        callable_here = not math.isnan(call_price) and s[j] >= call_level
        if callable_here and e[j] + b[j] > max(call_price, conversion):
            if conversion >= call_price:
                e[j], b[j], prob[j] = conversion, 0.0, 1.0
            else:
                e[j], b[j] = 0.0, call_price
        if not math.isnan(put_price) and s[j] < put_level and e[j] + b[j] < put_price:
            e[j], b[j] = 0.0, put_price
        b[j] += coupon
        if convertible and conversion >= e[j] + b[j]:
            e[j], b[j], prob[j] = conversion, 0.0, 1.0


@njit(cache=True)
def _rollback(
    s0, vol, rate, spread, carry, dt, ratio, terminal, coupon, convertible,
    call_price, call_level, put_price, put_level, blended,
):  # fmt: skip
    """Roll the bond back to t = 0; return values at steps 0, 1, 2, the equity part, u and d."""
    steps = len(coupon) - 1
    up = math.exp((carry - 0.5 * vol * vol) * dt + vol * math.sqrt(dt))
    down = math.exp((carry - 0.5 * vol * vol) * dt - vol * math.sqrt(dt))
    p = 0.5 if up == down else (math.exp(carry * dt) - down) / (up - down)
    disc_equity = math.exp(-rate * dt)
    disc_debt = math.exp(-(rate + spread) * dt)
    j = np.arange(steps + 1)
    s = s0 * up**j * down ** (steps - j)
    e = np.zeros(steps + 1)
    b = np.full(steps + 1, terminal)
    prob = np.zeros(steps + 1)
    saved = [np.zeros(1)] * 3
    for i in range(steps, -1, -1):
        if i < steps:
            if blended:
                disc = np.exp(-(rate + (1.0 - prob) * spread) * dt)
                e = p * disc[1:] * e[1:] + (1.0 - p) * disc[:-1] * e[:-1]
                b = p * disc[1:] * b[1:] + (1.0 - p) * disc[:-1] * b[:-1]
            else:
                e = disc_equity * (p * e[1:] + (1.0 - p) * e[:-1])
                b = disc_debt * (p * b[1:] + (1.0 - p) * b[:-1])
            prob = p * prob[1:] + (1.0 - p) * prob[:-1]
            s = s[: i + 1] / down
        _apply_clauses(
            s, e, b, prob, ratio, coupon[i], convertible[i],
            call_price[i], call_level, put_price[i], put_level,
        )  # fmt: skip
        if i <= 2:
            saved[i] = e + b
    return saved[0], saved[1], saved[2], e[0], up, down


def value_lattice(
    terms: ConvertibleTerms,
    market: Market,
    steps: int = DEFAULT_STEPS,
    discounting: str = "tf",
) -> ConvertibleValue:
    """Value the bond on a binomial lattice of `steps` steps to maturity (steps >= 2).

    `discounting` "tf" discounts the share-settled part at r and the cash part at r + spread
    (Tsiveriotis-Fernandes); "blended" discounts the whole value at r + (1 - P) spread, P the
    conversion probability rolled back on the tree and set to 1 where the bond converts, left as
    it was where it is called or put for cash (QuantLib's BinomialConvertibleEngine).
    """
    if discounting not in DISCOUNTING:
        raise ValueError(f"discounting {discounting!r} is not one of {', '.join(DISCOUNTING)}")
    if steps < 2:
        raise ValueError(f"steps {steps} must be at least 2 (delta and gamma need two levels)")
    grid = convertible_grid(terms, market, steps)
    cp = grid.conversion_price
    call_level = cp * terms.call.ratio / RATE_SCALE if terms.call else math.inf
    put_level = cp * terms.put.ratio / RATE_SCALE if terms.put else 0.0
    v0, v1, v2, e0, up, down = _rollback(
        market.spot, market.volatility, market.rate, market.credit_spread,
        market.rate - market.dividend_yield, grid.dt, grid.face / cp, grid.terminal,
        grid.coupon, grid.convertible, grid.call_price, call_level, grid.put_price, put_level,
        discounting == "blended",
    )  # fmt: skip
    s0 = market.spot
    delta = gamma = 0.0
    if up != down:
        delta = (v1[1] - v1[0]) / (s0 * (up - down))
        s2 = s0 * np.array([down * down, up * down, up * up])
        delta_up = (v2[2] - v2[1]) / (s2[2] - s2[1])
        delta_down = (v2[1] - v2[0]) / (s2[1] - s2[0])
        gamma = (delta_up - delta_down) / (0.5 * (s2[2] - s2[0]))
    return summarise("lattice", terms, market, float(v0[0]), delta, gamma, float(e0))
