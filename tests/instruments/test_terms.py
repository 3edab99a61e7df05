"""Terms load from TOML and self-contradicting terms are rejected naming the field."""

from __future__ import annotations

import datetime
import re

import pytest
from builders import convertible, preferred

from instruments.terms import (
    ConvertibleTerms,
    EquityTerms,
    PreferredTerms,
    TermsError,
    example_path,
    load_one,
    load_terms,
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("equity.toml", EquityTerms),
        ("convertible.toml", ConvertibleTerms),
        ("preferred.toml", PreferredTerms),
    ],
)
def test_shipped_examples_load(name, kind):
    assert isinstance(load_one(example_path(name), kind), kind)


def test_example_convertible_has_the_usual_clauses():
    terms = load_one(example_path("convertible.toml"), ConvertibleTerms)
    assert terms.conversion_start == datetime.date(2025, 9, 17)
    assert (terms.call.ratio, terms.call.days, terms.call.window) == (130_000_000, 15, 30)
    assert (terms.put.ratio, terms.put.days, terms.put.window) == (70_000_000, 30, 30)
    assert terms.put_start == datetime.date(2029, 3, 17)
    assert len(terms.coupon_dates) == 6


def test_conversion_starts_six_months_after_issue_by_default():
    assert convertible().conversion_start == datetime.date(2025, 7, 15)


def test_listing_file_holds_several_instruments(tmp_path):
    listing = tmp_path / "listing.toml"
    listing.write_text(
        '[[instrument]]\nkind = "equity"\nsymbol = "A"\nname = "A"\nboard = "techboard"\n'
        "share_capital = 1000\nfree_float = 500\nprevious_close = 100_000\n\n"
        '[[instrument]]\nkind = "preferred"\nsymbol = "B"\nname = "B"\nissuer = "A"\n'
        "issue_date = 2025-01-15\ndividend_rate = 4_000_000\nshares_issued = 10\n"
    )
    equity, pref = load_terms(listing)
    assert isinstance(equity, EquityTerms) and equity.lot_min == 200
    assert isinstance(pref, PreferredTerms) and pref.cumulative


CONTRADICTIONS = [
    (
        {"maturity_date": datetime.date(2024, 1, 15)},
        "maturity_date 2024-01-15 is not after issue_date 2025-01-15",
    ),
    (
        {"conversion_start": datetime.date(2032, 1, 1)},
        "conversion_start 2032-01-01 is outside the bond's life",
    ),
    ({"coupons": (300_000, -1, 0, 0, 0, 0)}, "coupons[1] -1 for year 2 is negative"),
    ({"coupons": (300_000,)}, "coupons has 1 rates; the 6-year term needs 6"),
    ({"conversion_price": 100_050}, "conversion_price 100050 (10.005 CNY) is not on the 0.01"),
    ({"day_count": "30/360"}, "day_count '30/360' is not one of ACT/365F, ACT/ACT"),
    ({"maturity_date": datetime.date(2031, 2, 1)}, "is not an anniversary of issue_date"),
]


@pytest.mark.parametrize(("override", "message"), CONTRADICTIONS)
def test_contradicting_convertible_terms_are_rejected(override, message):
    with pytest.raises(TermsError, match=re.escape(message)):
        convertible(**override)


def _write(tmp_path, text: str):
    path = tmp_path / "terms.toml"
    path.write_text(text)
    return path


def _example_with(section_edit: tuple[str, str]) -> str:
    old, new = section_edit
    text = example_path("convertible.toml").read_text()
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("days = 15\nwindow = 30\nprice", "days = 40\nwindow = 30\nprice"),
         "call.days 40 exceeds window 30"),
        (("years = 2", "years = 9"), "put.years 9 exceeds the 6-year term"),
        (("ratio = 85_000_000", "ratio = 0"), "revision.ratio 0 must be positive"),
        (("issue_size = 5_000_000", "issue_size = 5e6"), "issue_size 5000000.0 must be an integer"),
        (("issue_size = 5_000_000", "issue_size = 5_000_000\nisue_size = 1"),
         "unknown key isue_size"),
        (("underlying = \"TB0001\"\n", ""), "missing key underlying"),
        (("maturity_date = 2031-03-17", "maturity_date = 2024-03-17"),
         "maturity_date 2024-03-17 is not after issue_date 2025-03-17"),
    ],
)  # fmt: skip
def test_bad_terms_file_is_rejected_naming_the_field(tmp_path, edit, message):
    path = _write(tmp_path, _example_with(edit))
    with pytest.raises(TermsError) as error:
        load_terms(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_unknown_kind_is_rejected(tmp_path):
    with pytest.raises(TermsError, match="kind 'bond' is not one of equity, convertible"):
        load_terms(_write(tmp_path, 'kind = "bond"\n'))


def test_equity_free_float_cannot_exceed_share_capital():
    message = "free_float 2000 must be in 1..share_capital 1000"
    with pytest.raises(TermsError, match=re.escape(message)):
        EquityTerms("A", "A", "techboard", 1000, 2000, 100_000)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"holder_cap": 250}, "holder_cap 250 exceeds the legal 200 holders"),
        ({"dividend_rate": -1}, "dividend_rate -1 is negative"),
        ({"call_date": datetime.date(2027, 6, 1)}, "call_date 2027-06-01 is not a dividend date"),
        (
            {"vote_restore_consecutive_years": 4},
            "vote_restore_consecutive_years 4 exceeds vote_restore_total_years 3",
        ),
    ],
)
def test_contradicting_preferred_terms_are_rejected(override, message):
    with pytest.raises(TermsError, match=message):
        preferred(**override)


def test_floating_preferred_may_have_a_negative_spread():
    assert preferred(floating=True, dividend_rate=-500_000).dividend_rate == -500_000
