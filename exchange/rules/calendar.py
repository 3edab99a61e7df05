"""Trading calendar: which local dates trade, trading-day arithmetic, local times as int64 ns UTC.

Holidays come from a calendar file shipped in exchange/rules/calendars/ (cn.toml: SSE closures, each
year marked verified, recollection or estimated). Weekends never trade. A trading-day number
(`day_number`) counts trading days from the calendar's first one; T+n and the round-trip rule
compare these numbers (accounts.Accounts takes them as `day`).
"""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exchange import schema
from exchange.rules.boards import seconds_of_day

CALENDAR_DIR = Path(__file__).with_name("calendars")
NS_PER_SECOND = 1_000_000_000
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Year:
    """One year of a calendar file: weekday closures, where they come from and how sure."""

    status: Literal["verified", "recollection", "estimated"]
    source: str
    closed: tuple[datetime.date, ...]


@dataclass(frozen=True)
class CalendarFile:
    """A calendar file: the exchange's time zone and its years."""

    timezone: str
    years: Mapping[str, Year]

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):  # not found (a KeyError), or not a key
            raise ValueError(f"timezone {self.timezone!r} is not an IANA time zone") from None
        for key, year in self.years.items():
            for day in year.closed:
                if str(day.year) != key or day.weekday() >= 5:
                    raise ValueError(f"years.{key}: {day} is not a weekday of {key}")


class TradingCalendar:
    """Trading days of a date range with bisect-based arithmetic; local times in one time zone."""

    def __init__(
        self,
        closed: Iterable[datetime.date],
        first: datetime.date,
        last: datetime.date,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        """Make a calendar of [first, last]: every weekday not in `closed` trades."""
        holidays = set(closed)
        span = (last - first).days + 1
        dates = (first + datetime.timedelta(days=i) for i in range(span))
        self.days = [d for d in dates if d.weekday() < 5 and d not in holidays]
        if not self.days:
            raise ValueError(f"no trading day between {first} and {last}")
        self.first, self.last = first, last
        self.zone = ZoneInfo(timezone)
        self._number = {d: i for i, d in enumerate(self.days)}

    @classmethod
    def load(cls, source: str | Path = "cn") -> TradingCalendar:
        """Load a shipped calendar by name ("cn") or a TOML file; it covers its whole years."""
        spec = schema.build(CalendarFile, schema.load_chain(source, CALENDAR_DIR, "calendar"))
        years = sorted(int(y) for y in spec.years)
        if not years or years != list(range(years[0], years[-1] + 1)):
            raise schema.SchemaError(f"calendar {source}: years {years} must be consecutive")
        closed = [d for year in spec.years.values() for d in year.closed]
        first, last = datetime.date(years[0], 1, 1), datetime.date(years[-1], 12, 31)
        return cls(closed, first, last, spec.timezone)

    def _check(self, day: datetime.date) -> None:
        if not self.first <= day <= self.last:
            raise ValueError(f"date {day} is outside the calendar ({self.first} to {self.last})")

    def is_trading_day(self, day: datetime.date) -> bool:
        """Return whether the exchange trades on a local date."""
        self._check(day)
        return day in self._number

    def day_number(self, day: datetime.date) -> int:
        """Return the trading-day number of a trading day (0 = the calendar's first)."""
        self._check(day)
        try:
            return self._number[day]
        except KeyError:
            raise ValueError(f"{day} is not a trading day") from None

    def date_of(self, number: int) -> datetime.date:
        """Return the trading day with a trading-day number."""
        if not 0 <= number < len(self.days):
            raise ValueError(f"trading-day number {number} is outside 0..{len(self.days) - 1}")
        return self.days[number]

    def shift(self, day: datetime.date, n: int) -> datetime.date:
        """Return the n-th trading day after `day` (n > 0) or before it (n < 0); any date works."""
        self._check(day)
        if n == 0:
            raise ValueError("n must be non-zero: the 1st trading day after is n = 1")
        if n > 0:
            return self.date_of(bisect.bisect_right(self.days, day) + n - 1)
        return self.date_of(bisect.bisect_left(self.days, day) + n)

    def between(self, start: datetime.date, end: datetime.date) -> int:
        """Return the number of trading days d with start < d <= end (negative if end < start)."""
        self._check(start)
        self._check(end)
        return bisect.bisect_right(self.days, end) - bisect.bisect_right(self.days, start)

    def trading_days(self, start: datetime.date, end: datetime.date) -> list[datetime.date]:
        """Return the trading days from start to end, both included."""
        self._check(start)
        self._check(end)
        return self.days[bisect.bisect_left(self.days, start) : bisect.bisect_right(self.days, end)]

    def local_ns(self, day: datetime.date, time: str) -> int:
        """Return the int64 ns UTC of a local wall time "HH:MM[:SS]" on a date."""
        seconds = seconds_of_day(time)
        moment = datetime.datetime.combine(day, datetime.time(), self.zone)
        moment += datetime.timedelta(seconds=seconds)
        return (moment - _EPOCH) // datetime.timedelta(microseconds=1) * 1_000

    def local_date(self, ns: int) -> datetime.date:
        """Return the local date of an int64 ns UTC time."""
        moment = _EPOCH + datetime.timedelta(microseconds=ns // 1_000)
        return moment.astimezone(self.zone).date()
