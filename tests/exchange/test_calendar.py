"""Trading calendar: SSE holidays, trading-day arithmetic across them, local time in ns UTC."""

from __future__ import annotations

import datetime

import pytest

from exchange.rules.calendar import TradingCalendar
from exchange.schema import SchemaError

D = datetime.date


def test_weekends_and_holidays_do_not_trade(calendar):
    assert calendar.is_trading_day(D(2025, 1, 2))
    assert not calendar.is_trading_day(D(2025, 1, 1))  # New Year
    assert not calendar.is_trading_day(D(2025, 1, 4))  # Saturday
    assert not calendar.is_trading_day(D(2025, 1, 26))  # a make-up working Sunday still closed
    assert not calendar.is_trading_day(D(2026, 2, 23))  # verified 2026 Spring Festival
    assert calendar.is_trading_day(D(2026, 2, 24))


def test_shift_across_the_spring_festival(calendar):
    assert calendar.shift(D(2025, 1, 27), 1) == D(2025, 2, 5)
    assert calendar.shift(D(2025, 2, 5), -1) == D(2025, 1, 27)
    assert calendar.shift(D(2025, 1, 29), 1) == D(2025, 2, 5)  # from a holiday
    assert calendar.shift(D(2025, 1, 29), -1) == D(2025, 1, 27)
    # a buy on Friday 24 January may be sold five trading days later: Monday 10 February
    assert calendar.shift(D(2025, 1, 24), 5) == D(2025, 2, 10)


def test_between_counts_trading_days_after_start_up_to_end(calendar):
    assert calendar.between(D(2025, 1, 24), D(2025, 2, 7)) == 4  # 27 Jan, 5, 6, 7 Feb
    assert calendar.between(D(2025, 2, 7), D(2025, 1, 24)) == -4
    assert calendar.between(D(2025, 1, 28), D(2025, 2, 4)) == 0  # inside the holiday
    assert calendar.trading_days(D(2025, 1, 24), D(2025, 2, 5)) == [
        D(2025, 1, 24),
        D(2025, 1, 27),
        D(2025, 2, 5),
    ]


def test_day_numbers_subtract_to_trading_days(calendar):
    a, b = calendar.day_number(D(2025, 1, 24)), calendar.day_number(D(2025, 2, 10))
    assert b - a == 5
    assert calendar.date_of(a) == D(2025, 1, 24)
    assert calendar.day_number(D(2025, 1, 2)) == 0


def test_errors_name_the_date(calendar):
    with pytest.raises(ValueError, match="2025-01-01 is not a trading day"):
        calendar.day_number(D(2025, 1, 1))
    with pytest.raises(ValueError, match="2028-01-03 is outside the calendar"):
        calendar.is_trading_day(D(2028, 1, 3))
    with pytest.raises(ValueError, match="trading-day number -1 is outside"):
        calendar.date_of(-1)
    with pytest.raises(ValueError, match="n must be non-zero"):
        calendar.shift(D(2025, 1, 2), 0)
    with pytest.raises(ValueError, match="outside"):
        calendar.shift(D(2027, 12, 31), 1)


def test_local_times_in_shanghai_are_utc_plus_8(calendar):
    ns = calendar.local_ns(D(2025, 1, 2), "09:30")
    expected = datetime.datetime(2025, 1, 2, 1, 30, tzinfo=datetime.UTC).timestamp()
    assert ns == int(expected) * 1_000_000_000
    assert calendar.local_date(calendar.local_ns(D(2025, 1, 2), "00:30")) == D(2025, 1, 2)
    assert calendar.local_date(calendar.local_ns(D(2025, 1, 2), "23:59:59")) == D(2025, 1, 2)


def test_calendar_covers_whole_years_of_its_file(calendar):
    assert (calendar.first, calendar.last) == (D(2025, 1, 1), D(2027, 12, 31))


def write(tmp_path, text):
    path = tmp_path / "cal.toml"
    path.write_text('timezone = "Asia/Shanghai"\n' + text)
    return path


def test_a_user_calendar_file(tmp_path):
    path = write(
        tmp_path, "[years.2030]\nstatus = 'estimated'\nsource = 'x'\nclosed = [2030-01-01]\n"
    )
    calendar = TradingCalendar.load(path)
    assert not calendar.is_trading_day(D(2030, 1, 1))
    assert calendar.is_trading_day(D(2030, 1, 2))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[years.2030]\nstatus = 'estimated'\nsource = 'x'\nclosed = [2030-01-05]\n",
            r"years.2030: 2030-01-05 is not a weekday of 2030",
        ),
        (
            "[years.2030]\nstatus = 'estimated'\nsource = 'x'\nclosed = [2031-01-01]\n",
            r"years.2030: 2031-01-01 is not a weekday of 2030",
        ),
        (
            "[years.2030]\nstatus = 'guess'\nsource = 'x'\nclosed = []\n",
            "status: got 'guess'; allowed: 'verified', 'recollection', 'estimated'",
        ),
        (
            "[years.2030]\nstatus = 'estimated'\nsource = 'x'\nclosed = ['2030-01-01']\n",
            r"closed\[0\]: got '2030-01-01' \(str\); expected a date",
        ),
        (
            "[years.2030]\nstatus = 'estimated'\nsource = 'x'\nclosed = []\n"
            "[years.2032]\nstatus = 'estimated'\nsource = 'x'\nclosed = []\n",
            r"years \[2030, 2032\] must be consecutive",
        ),
    ],
)
def test_bad_calendar_files_are_named(tmp_path, text, message):
    with pytest.raises(SchemaError, match=message):
        TradingCalendar.load(write(tmp_path, text))
