"""Order-entry rules of a board as pure functions: each returns a reason code, or 0 to accept.

Prices are in price units (1/10000 CNY), quantities in shares (bonds), rates in parts per 10^8.
The Exchange API runs them in this order before the book sees an order: phase and order type
(sessions.check_order), tick, price limits, cage, quantity, then the account checks
(accounts.Accounts.reserve).
"""

from __future__ import annotations

from exchange.fees.schedule import round_scaled
from exchange.reasons import VenueReason
from exchange.rules.boards import (
    ONE,
    Band,
    Cage,
    ClassRules,
    Eligibility,
    OrderKind,
    ParticipantKind,
)
from matching_engine.dtypes import Side
from matching_engine.reasons import Reason


def band_for_day(rules: ClassRules, listing_day: int) -> Band:
    """Return the band in force on a listing day (1 = the first trading day after listing)."""
    for band in rules.price_limits.first_days:
        if listing_day <= band.through_day:
            return band
    return rules.price_limits.band


def price_limits(rules: ClassRules, reference: int, listing_day: int) -> tuple[int, int] | None:
    """Return the day's (lower, upper) limit prices around `reference`, or None if unlimited.

    Limits are reference x (1 - down) and reference x (1 + up), put on the tick by the board's
    rounding: "half_up" both (SSE), or "inward" (lower rounded up, upper rounded down); the
    lower limit is at least one tick.
    """
    if reference <= 0:
        raise ValueError(f"reference price {reference} must be positive")
    band = band_for_day(rules, listing_day)
    if not band.limited:
        return None
    inward = rules.price_limits.rounding == "inward"
    upper = round_scaled(reference * (ONE + band.up), rules.tick, "down" if inward else "half_up")
    lower = round_scaled(reference * (ONE - band.down), rules.tick, "up" if inward else "half_up")
    return max(lower, rules.tick), upper


def check_price_limits(price: int, limits: tuple[int, int] | None) -> int:
    """Return PRICE_ABOVE_LIMIT or PRICE_BELOW_LIMIT if the price is outside the limits, else 0."""
    if limits is None:
        return 0
    lower, upper = limits
    if price > upper:
        return VenueReason.PRICE_ABOVE_LIMIT
    if price < lower:
        return VenueReason.PRICE_BELOW_LIMIT
    return 0


def check_tick(rules: ClassRules, price: int) -> int:
    """Return INVALID_PRICE for a price <= 0, OFF_TICK off the class's tick, else 0."""
    if price <= 0:
        return VenueReason.INVALID_PRICE
    if price % rules.tick:
        return VenueReason.OFF_TICK
    return 0


def cage_benchmark(side: Side, best_bid: int, best_ask: int, last: int, previous_close: int) -> int:
    """Return the cage benchmark: best opposite quote, else best same-side, else last, else close.

    Prices of 0 mean "none"; returns 0 when there is no benchmark at all (DOMAIN.md 2, [S21]).
    """
    opposite, same = (best_ask, best_bid) if side == Side.BUY else (best_bid, best_ask)
    return next((p for p in (opposite, same, last, previous_close) if p > 0), 0)


def check_cage(cage: Cage, tick: int, side: Side, price: int, benchmark: int) -> int:
    """Return PRICE_OUTSIDE_CAGE if a limit order is beyond the cage around benchmark, else 0.

    Buy: price <= max(benchmark x (1 + pct), benchmark + min_ticks x tick); sell: price >=
    min(benchmark x (1 - pct), benchmark - min_ticks x tick). Compared exactly, no rounding.
    No cage (pct = min_ticks = 0) or no benchmark (0): 0.
    """
    if benchmark <= 0 or not (cage.pct or cage.min_ticks):
        return 0
    ticks = cage.min_ticks * tick
    if side == Side.BUY:
        inside = price * ONE <= benchmark * (ONE + cage.pct) or price <= benchmark + ticks
    else:
        inside = price * ONE >= benchmark * (ONE - cage.pct) or price >= benchmark - ticks
    return 0 if inside else VenueReason.PRICE_OUTSIDE_CAGE


def check_quantity(
    rules: ClassRules, side: Side, order: OrderKind, quantity: int, free_holding: int = 0
) -> int:
    """Return the reason a quantity breaks the lot or size rules, else 0.

    A sell of exactly the seller's whole free holding skips the lot rule where the class has
    odd_lot_sell (the maximum still applies). Checks: positive, minimum, steps, maximum.
    """
    if quantity <= 0:
        return Reason.INVALID_QUANTITY
    lot = rules.lot
    whole_holding = side == Side.SELL and lot.odd_lot_sell and quantity == free_holding
    if not whole_holding:
        if quantity < lot.minimum:
            return VenueReason.QUANTITY_BELOW_MINIMUM
        if (quantity - lot.minimum) % lot.step:
            return VenueReason.QUANTITY_NOT_IN_STEPS
    size = rules.size
    maximum = {"market": size.market_max, "fixed_price": size.fixed_price_max}.get(
        order, size.limit_max
    )
    if maximum is not None and quantity > maximum:
        return VenueReason.QUANTITY_ABOVE_MAXIMUM
    return 0


def check_eligibility(
    eligibility: Eligibility, kind: ParticipantKind, financial_assets: int, experience_months: int
) -> int:
    """Return INVESTOR_NOT_ELIGIBLE if a participant may not buy on the board, else 0.

    Individuals (kind "investor") need individual_min_assets (1/10000 CNY) and
    individual_min_months; qualified institutions need institution_min_assets.
    """
    if kind not in eligibility.kinds:
        return VenueReason.INVESTOR_NOT_ELIGIBLE
    if kind == "investor":
        ok = (
            financial_assets >= eligibility.individual_min_assets
            and experience_months >= eligibility.individual_min_months
        )
    elif kind == "qualified_institution":
        ok = financial_assets >= eligibility.institution_min_assets
    else:
        ok = True
    return 0 if ok else VenueReason.INVESTOR_NOT_ELIGIBLE
