"""Lifecycle events on integer cash: coupons, conversion, trigger clauses, redemption, dividends.

Every function is pure: the caller (the exchange) passes the trading dates, closing prices and
holdings, and gets back plain frozen records to apply to accounts; the same inputs give the same
events. Units: cash and prices in 1/10000 CNY, rates in parts per 10^8 (terms.py).

Rounding rule: an amount paid to one holder is computed exactly from that holder's whole position
(quantity x base x rate / 10^8, times days / basis for accrual) and rounded down to the fen
(100 units); the issuer keeps the sub-fen remainder. A conversion's residual face is exact (face
and conversion price are whole fen), so no rounding happens there.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import deque
from collections.abc import Mapping, Sequence

from instruments.terms import (
    FEN,
    RATE_SCALE,
    ConvertibleTerms,
    PreferredTerms,
    add_years,
)


@dataclasses.dataclass(frozen=True)
class Payment:
    """Cash the issuer pays one holder."""

    date: datetime.date
    symbol: str  # the instrument paid on
    holder: str
    quantity: int  # bonds or shares held on the record date
    cash: int  # units, rounded down to the fen
    reason: str  # coupon, redemption, call, put, dividend, arrears, participation


@dataclasses.dataclass(frozen=True)
class Conversion:
    """Bonds a holder converts: bonds out, shares and residual cash in."""

    date: datetime.date
    symbol: str  # the bond
    holder: str
    bonds: int
    conversion_price: int  # price units per share
    shares: int  # floor(bonds x face / conversion price) new shares of the underlying
    residual_face: int  # units: bonds x face - shares x conversion price, paid in cash
    cash: int  # units: residual face plus its accrued interest (rounded down to the fen)


@dataclasses.dataclass(frozen=True)
class ClauseTriggered:
    """A trigger clause met on a close: the issuer may call, holders may put."""

    date: datetime.date
    symbol: str
    clause: str  # "call" or "put"
    conversion_price: int  # price units, in force on the day
    days_met: int  # days in the window that met the condition


@dataclasses.dataclass(frozen=True)
class RevisionProposed:
    """The downward-revision trigger met: the board may propose a lower conversion price."""

    date: datetime.date
    symbol: str
    conversion_price: int  # price units, in force on the day
    minimum_price: int  # lowest price the rule allows (price units, on the 0.01 CNY tick)


@dataclasses.dataclass(frozen=True)
class ReferencePriceAdjusted:
    """A price reference adjusted for a distribution (ex-rights reference, conversion price)."""

    date: datetime.date
    symbol: str
    before: int  # price units
    after: int  # price units


@dataclasses.dataclass(frozen=True)
class SharesDistributed:
    """Bonus or split shares a holder receives."""

    date: datetime.date
    symbol: str
    holder: str
    shares: int


@dataclasses.dataclass(frozen=True)
class PreferredDividend:
    """A preferred dividend year: what was due, what was paid, what remains in arrears."""

    date: datetime.date
    symbol: str
    due: int  # units per share for the year
    paid: int  # units per share paid now (arrears first, then the year's dividend)
    arrears: int  # units per share unpaid after this date (cumulative shares only)
    voting: bool  # whether preferred holders vote with common after this date


def _fen(numerator: int, denominator: int = 1) -> int:
    """Return numerator / denominator rounded down to the fen."""
    return numerator // (denominator * FEN) * FEN


def pay_holders(
    on: datetime.date,
    symbol: str,
    reason: str,
    holdings: Mapping[str, int],
    per_unit: int,
    divisor: int = 1,
) -> list[Payment]:
    """Pay `per_unit / divisor` units on each unit held, rounded per holder; skip empty holders."""
    return [
        Payment(on, symbol, holder, quantity, _fen(quantity * per_unit, divisor), reason)
        for holder, quantity in sorted(holdings.items())
        if quantity > 0
    ]


def accrual(terms: ConvertibleTerms, on: datetime.date) -> tuple[int, int, int]:
    """Return (interest year index, days accrued, day-count basis) on date `on`."""
    if not terms.issue_date <= on <= terms.maturity_date:
        raise ValueError(
            f"date {on} is outside the bond's life {terms.issue_date}..{terms.maturity_date}"
        )
    year = sum(1 for d in terms.coupon_dates[:-1] if d <= on)
    start = add_years(terms.issue_date, year)
    basis = 365 if terms.day_count == "ACT/365F" else (add_years(start, 1) - start).days
    return year, (on - start).days, basis


def accrued_interest(terms: ConvertibleTerms, on: datetime.date, face: int) -> int:
    """Return the interest accrued on `face` units of bonds by `on`, rounded down to the fen."""
    year, days, basis = accrual(terms, on)
    return _fen(face * terms.coupons[year] * days, RATE_SCALE * basis)


def record_date(payment: datetime.date, trading_dates: Sequence[datetime.date]) -> datetime.date:
    """Return a payment's record date: the last trading date before the payment date."""
    before = [d for d in trading_dates if d < payment]
    if not before:
        raise ValueError(f"no trading date before payment date {payment}")
    return before[-1]


def coupon_payments(
    terms: ConvertibleTerms, payment: datetime.date, holdings: Mapping[str, int]
) -> list[Payment]:
    """Pay the coupon due on `payment` to `holdings` (bonds held on the record date)."""
    if payment not in terms.coupon_dates:
        raise ValueError(f"{payment} is not a coupon date of {terms.symbol}")
    year = terms.coupon_dates.index(payment)
    if year == len(terms.coupons) - 1 and terms.redemption_includes_last_coupon:
        return []
    rate = terms.coupons[year]
    return pay_holders(payment, terms.symbol, "coupon", holdings, terms.face * rate, RATE_SCALE)


def convert(
    terms: ConvertibleTerms,
    on: datetime.date,
    holder: str,
    bonds: int,
    conversion_price: int | None = None,
) -> Conversion:
    """Convert `bonds` into shares at the conversion price in force (default: the terms').

    Shares are floor(bonds x face / price); the residual face is paid in cash with its accrued
    interest; the accrued interest on the converted face is forfeited [S63].
    """
    price = terms.conversion_price if conversion_price is None else conversion_price
    if not terms.conversion_start <= on <= terms.maturity_date:
        raise ValueError(
            f"conversion on {on} is outside the conversion period "
            f"{terms.conversion_start}..{terms.maturity_date}"
        )
    if bonds <= 0 or price <= 0:
        raise ValueError(f"bonds {bonds} and conversion price {price} must be positive")
    face = bonds * terms.face
    shares = face // price
    residual = face - shares * price
    cash = residual + accrued_interest(terms, on, residual)
    return Conversion(on, terms.symbol, holder, bonds, price, shares, residual, cash)


def redemption_payments(
    terms: ConvertibleTerms,
    on: datetime.date,
    holdings: Mapping[str, int],
    reason: str,
) -> list[Payment]:
    """Redeem `holdings`: at maturity ("redemption"), or on a call or put ("call", "put").

    Maturity pays face x redemption (the last coupon is paid by coupon_payments unless the
    redemption includes it); a call or put pays face x clause price plus accrued interest.
    """
    if reason == "redemption":
        if on != terms.maturity_date:
            raise ValueError(f"redemption date {on} is not maturity {terms.maturity_date}")
        per_bond = terms.face * terms.redemption
        return pay_holders(on, terms.symbol, reason, holdings, per_bond, RATE_SCALE)
    clause = {"call": terms.call, "put": terms.put}.get(reason)
    if clause is None:
        raise ValueError(f"{terms.symbol} has no {reason} clause")
    year, days, basis = accrual(terms, on)
    per_bond = terms.face * (clause.price * basis + terms.coupons[year] * days)
    return pay_holders(on, terms.symbol, reason, holdings, per_bond, RATE_SCALE * basis)


def minimum_revised_price(terms: ConvertibleTerms, closes: Sequence[int]) -> int:
    """Return the lowest revised conversion price allowed after `closes` (oldest first).

    The new price is at least the average close of the last `average_days` days, the last close
    and the clause's floor price, rounded up to the 0.01 CNY tick [S67].
    """
    if terms.revision is None:
        raise ValueError(f"{terms.symbol} has no downward revision clause")
    recent = closes[-terms.revision.average_days :]
    average = -(-sum(recent) // len(recent))
    lowest = max(average, closes[-1], terms.revision.floor_price)
    return -(-lowest // FEN) * FEN


def clause_events(
    terms: ConvertibleTerms,
    dates: Sequence[datetime.date],
    closes: Sequence[int],
    revisions: Mapping[datetime.date, int] | None = None,
) -> list[ClauseTriggered | RevisionProposed]:
    """Evaluate the trigger clauses on daily closes (price units); return the triggers met.

    `revisions` maps a date to the conversion price in force from that day (revisions the
    caller applied). Call: M of N days at or above the ratio within the conversion period, each
    day against its own conversion price. Put: in the put period, M of N days below the ratio,
    once per interest year; the count restarts after a revision [S69]. Revision: M of N days
    below the ratio; the count restarts after a proposal or a revision. A clause's window
    restarts after it triggers.
    """
    if len(dates) != len(closes):
        raise ValueError(f"{len(dates)} dates but {len(closes)} closes")
    revisions = revisions or {}
    price = terms.conversion_price
    windows = {
        name: deque(maxlen=clause.window)
        for name, clause in (("call", terms.call), ("put", terms.put), ("revision", terms.revision))
        if clause is not None
    }
    put_years: set[int] = set()
    events: list[ClauseTriggered | RevisionProposed] = []
    for index, (day, close) in enumerate(zip(dates, closes, strict=True)):
        if day in revisions:
            price = revisions[day]
            for name in ("put", "revision"):
                windows.get(name, deque()).clear()
        if "revision" in windows:
            met = _push(windows["revision"], close * RATE_SCALE < terms.revision.ratio * price)
            if met >= terms.revision.days:
                minimum = minimum_revised_price(terms, closes[: index + 1])
                events.append(RevisionProposed(day, terms.symbol, price, minimum))
                windows["revision"].clear()
        if "put" in windows and terms.put_start <= day <= terms.maturity_date:
            year = accrual(terms, day)[0]
            met = _push(windows["put"], close * RATE_SCALE < terms.put.ratio * price)
            if met >= terms.put.days and year not in put_years:
                events.append(ClauseTriggered(day, terms.symbol, "put", price, met))
                put_years.add(year)
                windows["put"].clear()
        if "call" in windows and terms.conversion_start <= day <= terms.maturity_date:
            met = _push(windows["call"], close * RATE_SCALE >= terms.call.ratio * price)
            if met >= terms.call.days:
                events.append(ClauseTriggered(day, terms.symbol, "call", price, met))
                windows["call"].clear()
    return events


def _push(window: deque[bool], hit: bool) -> int:
    window.append(hit)
    return sum(window)


def cleanup_callable(terms: ConvertibleTerms, outstanding_bonds: int) -> bool:
    """Return whether the clean-up call is open: outstanding face below the clause's threshold."""
    if terms.call is None:
        return False
    return outstanding_bonds * terms.face < terms.call.cleanup_outstanding


def ex_rights_price(price: int, cash_per_share: int, bonus_ratio: int, tick: int = FEN) -> int:
    """Return (price - cash dividend) / (1 + bonus ratio), rounded half up to the tick.

    The exchange's ex-rights reference price and the convertible's conversion price adjustment
    P1 = (P0 - D) / (1 + n) use the same formula; `bonus_ratio` n is in parts per 10^8 (a 10-for-10
    split or bonus issue is 100_000_000).
    """
    numerator = (price - cash_per_share) * RATE_SCALE
    denominator = (RATE_SCALE + bonus_ratio) * tick
    adjusted = (2 * numerator + denominator) // (2 * denominator) * tick
    if adjusted <= 0:
        raise ValueError(f"dividend {cash_per_share} leaves no positive price from {price}")
    return adjusted


def distribution_events(
    on: datetime.date,
    symbol: str,
    previous_close: int,
    holdings: Mapping[str, int],
    cash_per_share: int = 0,
    bonus_ratio: int = 0,
    tick: int = FEN,
) -> list[Payment | SharesDistributed | ReferencePriceAdjusted]:
    """Return an equity distribution's events: dividends, bonus shares and the reference price.

    Bonus shares per holder are floor(shares x ratio / 10^8) (fractions are not distributed).
    """
    events: list[Payment | SharesDistributed | ReferencePriceAdjusted] = []
    if cash_per_share:
        events += pay_holders(on, symbol, "dividend", holdings, cash_per_share)
    if bonus_ratio:
        events += [
            SharesDistributed(on, symbol, holder, shares * bonus_ratio // RATE_SCALE)
            for holder, shares in sorted(holdings.items())
            if shares * bonus_ratio // RATE_SCALE > 0
        ]
    reference = ex_rights_price(previous_close, cash_per_share, bonus_ratio, tick)
    events.append(ReferencePriceAdjusted(on, symbol, previous_close, reference))
    return events


@dataclasses.dataclass(frozen=True)
class DividendDecision:
    """What the board declares on a preferred dividend date."""

    date: datetime.date
    declare: bool  # pay the preferred dividend (and all arrears) this year
    common_per_share: int = 0  # units per common share declared after the preferred dividend
    benchmark_rate: int = 0  # parts per 10^8, for a floating preferred dividend


def preferred_dividend_events(
    terms: PreferredTerms, decisions: Sequence[DividendDecision]
) -> list[PreferredDividend]:
    """Fold a sequence of yearly decisions into preferred dividend records (per share).

    Due each year: par x rate (rate = benchmark + spread if floating), rounded down to the unit.
    Declaring pays the arrears and the year's dividend; skipping adds the year's dividend to the
    arrears if cumulative, else it is lost. A common dividend is refused in a year the preferred
    dividend is skipped. Voting is restored after `vote_restore_total_years` missed years or
    `vote_restore_consecutive_years` in a row, and ends once the preferred is paid in full [S80].
    """
    arrears = missed_total = missed_in_row = 0
    voting = False
    records = []
    for decision in decisions:
        rate = terms.dividend_rate + (decision.benchmark_rate if terms.floating else 0)
        due = terms.par * max(rate, 0) // RATE_SCALE
        if decision.declare:
            paid, arrears, missed_in_row, voting = arrears + due, 0, 0, False
        else:
            if decision.common_per_share:
                raise ValueError(
                    f"{decision.date}: common dividend {decision.common_per_share} declared while "
                    f"the preferred dividend of {terms.symbol} is skipped"
                )
            paid = 0
            arrears += due if terms.cumulative else 0
            missed_total += 1
            missed_in_row += 1
            voting = voting or (
                missed_total >= terms.vote_restore_total_years
                or missed_in_row >= terms.vote_restore_consecutive_years
            )
        records.append(PreferredDividend(decision.date, terms.symbol, due, paid, arrears, voting))
    return records


def participation_per_share(terms: PreferredTerms, common_per_share: int) -> int:
    """Return the extra dividend per preferred share when common receives `common_per_share`."""
    if not terms.participating:
        return 0
    return common_per_share * terms.participation_ratio // RATE_SCALE
