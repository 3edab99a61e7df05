"""Lifecycle events on integer cash: worked examples computed by hand, and conservation."""

from __future__ import annotations

import datetime

import pytest
from builders import convertible, preferred
from hypothesis import given
from hypothesis import strategies as st

from instruments.lifecycle import (
    ClauseTriggered,
    DividendDecision,
    Payment,
    ReferencePriceAdjusted,
    RevisionProposed,
    SharesDistributed,
    accrued_interest,
    clause_events,
    cleanup_callable,
    convert,
    coupon_payments,
    distribution_events,
    ex_rights_price,
    minimum_revised_price,
    participation_per_share,
    pay_holders,
    preferred_dividend_events,
    record_date,
    redemption_payments,
)
from instruments.terms import CallClause, PutClause, RevisionClause

D = datetime.date
CNY = 10_000  # units per CNY


def business_days(start: datetime.date, count: int) -> list[datetime.date]:
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += datetime.timedelta(days=1)
    return days


def test_coupon_goes_to_holders_of_record_rounded_down_to_the_fen():
    # 0.333333% of 100 CNY = 0.333333 CNY a bond: 10 bonds 3.33333 -> 3.33, 3 bonds 0.999999 -> 0.99
    terms = convertible(coupons=(333_333, 500_000, 1_000_000, 1_500_000, 1_800_000, 2_000_000))
    trading = business_days(D(2026, 1, 5), 10)
    assert record_date(D(2026, 1, 15), trading) == D(2026, 1, 14)
    payments = coupon_payments(terms, D(2026, 1, 15), {"alice": 10, "bob": 3, "carol": 0})
    assert payments == [
        Payment(D(2026, 1, 15), "TB1001", "alice", 10, 33_300, "coupon"),
        Payment(D(2026, 1, 15), "TB1001", "bob", 3, 9_900, "coupon"),
    ]


def test_coupon_on_a_date_that_is_not_a_coupon_date_is_refused():
    with pytest.raises(ValueError, match="2026-01-16 is not a coupon date of TB1001"):
        coupon_payments(convertible(), D(2026, 1, 16), {"alice": 1})


def test_conversion_pays_the_fraction_of_a_share_in_cash_with_its_accrued_interest():
    # 7 bonds = 700 CNY at 12.34 CNY: 56 shares (691.04 CNY) and 8.96 CNY residual face;
    # interest on 8.96 CNY at 0.3% for 243 days / 365 = 0.0178956 CNY -> 0.01 CNY (fen, down).
    terms = convertible(conversion_price=123_400)
    conversion = convert(terms, D(2025, 9, 15), "alice", 7)
    assert (conversion.shares, conversion.residual_face, conversion.cash) == (56, 89_600, 89_700)


def test_conversion_outside_the_conversion_period_is_refused():
    with pytest.raises(ValueError, match="conversion on 2025-03-01 is outside the conversion"):
        convert(convertible(), D(2025, 3, 1), "alice", 1)


def test_maturity_redemption_and_the_last_coupon():
    terms = convertible()
    maturity = terms.maturity_date
    assert redemption_payments(terms, maturity, {"alice": 10}, "redemption") == [
        Payment(maturity, "TB1001", "alice", 10, 10 * 106 * CNY, "redemption")
    ]
    assert coupon_payments(terms, maturity, {"alice": 10})[0].cash == 10 * 2 * CNY
    included = convertible(redemption_includes_last_coupon=True)
    assert coupon_payments(included, maturity, {"alice": 10}) == []


def test_call_pays_par_plus_accrued_interest():
    # year 3 at 1.0%, 45 days from 2027-01-15: 5 bonds x (100 + 100 x 1% x 45/365) = 500.616438
    terms = convertible(call=CallClause(ratio=130_000_000, days=15, window=30))
    (payment,) = redemption_payments(terms, D(2027, 3, 1), {"alice": 5}, "call")
    assert payment.cash == 5_006_100
    assert accrued_interest(terms, D(2027, 3, 1), 5 * terms.face) == 6_100
    with pytest.raises(ValueError, match="TB1001 has no put clause"):
        redemption_payments(terms, D(2027, 3, 1), {"alice": 5}, "put")


def test_call_trigger_counts_days_at_or_above_130_percent():
    terms = convertible(call=CallClause(ratio=130_000_000, days=15, window=30))
    dates = business_days(D(2025, 8, 1), 40)
    closes = [129_900] * 10 + [130_000] * 30  # 12.99 does not count, 13.00 does
    events = clause_events(terms, dates, closes)
    assert events[0] == ClauseTriggered(dates[24], "TB1001", "call", 100_000, 15)
    assert [e.date for e in events] == [dates[24], dates[39]]  # the window restarts


def test_call_trigger_waits_for_the_conversion_period():
    terms = convertible(call=CallClause(ratio=130_000_000, days=15, window=30))
    dates = business_days(D(2025, 6, 2), 60)  # conversion starts 2025-07-15
    events = clause_events(terms, dates, [150_000] * 60)
    assert events[0].date == D(2025, 8, 4)  # the 15th trading day from 2025-07-15


def test_put_triggers_once_per_interest_year_and_restarts_after_a_revision():
    terms = convertible(put=PutClause(ratio=70_000_000, days=30, window=30, years=2))
    dates = business_days(D(2029, 2, 1), 100)
    events = clause_events(terms, dates, [60_000] * 100)
    assert events == [ClauseTriggered(dates[29], "TB1001", "put", 100_000, 30)]
    revised = clause_events(terms, dates, [60_000] * 100, {dates[10]: 90_000})
    # the count restarts at the revision; 6.00 < 70% of 9.00, so it triggers 30 days later
    assert revised[0].date == dates[39] and revised[0].conversion_price == 90_000


def test_revision_proposal_gives_the_lowest_price_allowed():
    clause = RevisionClause(ratio=85_000_000, days=15, window=30, average_days=20, floor_price=0)
    terms = convertible(revision=clause)
    dates = business_days(D(2025, 3, 3), 30)
    closes = [90_000] * 15 + [80_000, 80_050] * 7 + [80_010]
    (event,) = clause_events(terms, dates, closes)
    # last 20 closes: 5 x 9.00 + 7 x 8.00 + 7 x 8.005 + 8.001 = 165.036 -> 8.2518 -> 8.26 (up)
    assert event == RevisionProposed(dates[29], "TB1001", 100_000, 82_600)
    assert minimum_revised_price(terms, [60_000] * 20 + [70_000]) == 70_000  # last close
    floored = convertible(revision=RevisionClause(85_000_000, 15, 30, floor_price=75_000))
    assert minimum_revised_price(floored, [60_000] * 21) == 75_000


def test_clean_up_call_opens_below_30_million_cny_of_face():
    terms = convertible(call=CallClause(ratio=130_000_000, days=15, window=30))
    assert not cleanup_callable(terms, 300_000)  # exactly 30 million CNY
    assert cleanup_callable(terms, 299_999)


def test_dividend_and_bonus_issue_adjust_the_reference_price():
    # (10.00 - 0.50) / (1 + 1) = 4.75; holders get 0.50 a share and one bonus share per share
    events = distribution_events(D(2026, 6, 1), "TB0001", 100_000, {"alice": 301}, 5_000, 10**8)
    assert events == [
        Payment(D(2026, 6, 1), "TB0001", "alice", 301, 1_505_000, "dividend"),
        SharesDistributed(D(2026, 6, 1), "TB0001", "alice", 301),
        ReferencePriceAdjusted(D(2026, 6, 1), "TB0001", 100_000, 47_500),
    ]
    assert ex_rights_price(100_100, 0, 2 * 10**8) == 33_400  # 3.33667 rounds half up to 3.34
    assert ex_rights_price(100_000, 0, 0) == 100_000


def test_preferred_arrears_are_paid_before_common_and_restore_voting():
    terms = preferred()  # 5% of 100 CNY: 5.00 CNY a share a year
    decisions = [
        DividendDecision(D(2026, 1, 15), declare=True, common_per_share=2_000),
        DividendDecision(D(2027, 1, 15), declare=False),
        DividendDecision(D(2028, 1, 15), declare=False),
        DividendDecision(D(2029, 1, 15), declare=True),
    ]
    records = preferred_dividend_events(terms, decisions)
    assert [(r.paid, r.arrears, r.voting) for r in records] == [
        (50_000, 0, False),
        (0, 50_000, False),
        (0, 100_000, True),  # two years in a row missed
        (150_000, 0, False),  # arrears and the year's dividend; voting ends
    ]
    assert pay_holders(D(2029, 1, 15), "TB2001", "dividend", {"alice": 3}, 150_000)[0].cash == (
        450_000
    )


def test_non_cumulative_preferred_loses_skipped_dividends_and_restores_voting_after_three():
    terms = preferred(cumulative=False)
    decisions = [
        DividendDecision(D(2026 + k, 1, 15), declare=paid)
        for k, paid in enumerate([False, True, False, True, False])
    ]
    records = preferred_dividend_events(terms, decisions)
    assert [(r.paid, r.arrears, r.voting) for r in records] == [
        (0, 0, False),
        (50_000, 0, False),
        (0, 0, False),
        (50_000, 0, False),
        (0, 0, True),  # three years missed in total
    ]


def test_common_dividend_is_refused_while_the_preferred_is_skipped():
    with pytest.raises(ValueError, match="common dividend 1000 declared while the preferred"):
        preferred_dividend_events(preferred(), [DividendDecision(D(2026, 1, 15), False, 1_000)])


def test_floating_and_participating_preferred_dividends():
    floating = preferred(floating=True, dividend_rate=1_500_000)  # benchmark + 1.5%
    (record,) = preferred_dividend_events(
        floating, [DividendDecision(D(2026, 1, 15), True, benchmark_rate=2_000_000)]
    )
    assert record.due == 35_000
    assert participation_per_share(preferred(participating=True), 2_000) == 2_000
    assert participation_per_share(preferred(), 2_000) == 0


price_ticks = st.integers(min_value=10, max_value=5_000).map(lambda fen: fen * 100)
holdings = st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 5_000), min_size=1)


@given(
    holdings=holdings,
    first_price=price_ticks,
    revised_price=price_ticks,
    fractions=st.lists(st.integers(0, 100), min_size=2, max_size=2),
    day=st.integers(0, 2_000),
)
def test_conversions_conserve_face_shares_and_cash(
    holdings, first_price, revised_price, fractions, day
):
    terms = convertible(conversion_price=first_price)
    on = terms.conversion_start + datetime.timedelta(days=day)
    bonds = dict(holdings)
    shares = dict.fromkeys(bonds, 0)
    cash = dict.fromkeys(bonds, 0)
    issuer_cash, issuer_shares = 10**15, 0
    converted_face = paid_out = 0
    for price, fraction in zip((first_price, revised_price), fractions, strict=True):
        for holder in sorted(bonds):
            amount = bonds[holder] * fraction // 100
            if amount == 0:
                continue
            event = convert(terms, on, holder, amount, price)
            assert amount * terms.face == event.shares * price + event.residual_face
            assert 0 <= event.residual_face < price
            assert event.residual_face <= event.cash < event.residual_face + price
            bonds[holder] -= amount
            shares[holder] += event.shares
            cash[holder] += event.cash
            issuer_shares += event.shares
            issuer_cash -= event.cash
            converted_face += amount * terms.face
            paid_out += event.shares * price + event.residual_face
    assert sum(bonds.values()) + converted_face // terms.face == sum(holdings.values())
    assert sum(shares.values()) == issuer_shares
    assert sum(cash.values()) + issuer_cash == 10**15
    assert converted_face == paid_out
