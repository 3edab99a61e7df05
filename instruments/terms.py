"""Instrument terms: equity, convertible bond, preferred share; frozen, validated, loaded from TOML.

Units follow ARCHITECTURE.md: prices and cash are int 1/10000 CNY ("units"), rates and ratios are
int parts per 10^8 of their base (1% = 1_000_000), quantities are shares or bonds, dates are
`datetime.date` (calendar dates; the exchange's trading calendar maps them to ns timestamps).
A TOML file holds one instrument (a `kind` key and the fields) or a listing (`[[instrument]]`
tables, each with its own `kind`). Field names in TOML are the dataclass field names below.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

UNITS_PER_CNY = 10_000
RATE_SCALE = 10**8
FEN = 100  # cash paid to holders is rounded down to the fen (0.01 CNY = 100 units)
BOND_FACE = 100 * UNITS_PER_CNY
DAY_COUNTS = ("ACT/365F", "ACT/ACT")
MAX_PRIVATE_HOLDERS = 200  # [S1][S83]
MAX_FILE_BYTES = 1 << 20  # bytes in one terms file
MAX_INTEGER = 2**53 - 1  # the largest integer magnitude a field may hold (exact as a float)


class TermsError(ValueError):
    """Terms that are malformed or contradict themselves; the message names the field."""


def add_years(day: datetime.date, years: int) -> datetime.date:
    """Return the same calendar day `years` later (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """Return the same day `months` later, clamped to the end of a shorter month."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise TermsError(message)


def _positive(**fields: int) -> None:
    for name, value in fields.items():
        _require(value > 0, f"{name} {value} must be positive")


def _on_tick(name: str, price: int, tick: int) -> None:
    _require(
        price % tick == 0,
        f"{name} {price} ({price / UNITS_PER_CNY} CNY) is not on the "
        f"{tick / UNITS_PER_CNY} CNY tick",
    )


@dataclasses.dataclass(frozen=True)
class EquityTerms:
    """Ordinary shares listed on a board."""

    symbol: str
    name: str
    board: str
    share_capital: int  # shares outstanding
    free_float: int  # shares held by the public, at most share_capital
    previous_close: int  # price units, on the tick
    tick: int = 100  # price units (0.01 CNY)
    lot_min: int = 200  # shares, smallest order [S23]
    lot_step: int = 1  # shares, increment above lot_min [S23]
    lot_max: int = 100_000  # shares, largest limit order [S23]

    def __post_init__(self) -> None:
        _positive(
            share_capital=self.share_capital,
            previous_close=self.previous_close,
            tick=self.tick,
            lot_min=self.lot_min,
            lot_step=self.lot_step,
        )
        _require(
            0 < self.free_float <= self.share_capital,
            f"free_float {self.free_float} must be in 1..share_capital {self.share_capital}",
        )
        _on_tick("previous_close", self.previous_close, self.tick)
        _require(
            self.lot_min <= self.lot_max,
            f"lot_max {self.lot_max} is below lot_min {self.lot_min}",
        )


@dataclasses.dataclass(frozen=True)
class _TriggerClause:
    """A clause met when the close is past `ratio` x conversion price on `days` of `window` days."""

    ratio: int  # close / conversion price, parts per 10^8 (130% = 130_000_000)
    days: int  # M: trading days that must meet the condition
    window: int  # N: the last N trading days looked at (M = N means consecutive days)

    def __post_init__(self) -> None:
        _positive(ratio=self.ratio, days=self.days, window=self.window)
        _require(
            self.days <= self.window,
            f"days {self.days} exceeds window {self.window} (a trigger is M of N trading days)",
        )


@dataclasses.dataclass(frozen=True)
class RevisionClause(_TriggerClause):
    """Downward revision: close below `ratio` of the conversion price on M of N days [S67]."""

    average_days: int = 20  # new price >= average close of this many days before the meeting
    floor_price: int = 0  # price units: new price also >= this (net assets per share, par)

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(average_days=self.average_days)
        _require(self.floor_price >= 0, f"floor_price {self.floor_price} must not be negative")


@dataclasses.dataclass(frozen=True)
class CallClause(_TriggerClause):
    """Conditional issuer call: close at or above `ratio` on M of N days, at price plus accrued."""

    price: int = RATE_SCALE  # call price, parts per 10^8 of face, accrued interest added [S68]
    cleanup_outstanding: int = 30_000_000 * UNITS_PER_CNY  # clean-up call below this face [S70]

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(price=self.price, cleanup_outstanding=self.cleanup_outstanding)


@dataclasses.dataclass(frozen=True)
class PutClause(_TriggerClause):
    """Conditional holder put in the last `years` interest years, below `ratio` [S69]."""

    years: int = 2  # put period: the last N interest years
    price: int = RATE_SCALE  # put price, parts per 10^8 of face, accrued interest added

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(years=self.years, price=self.price)


@dataclasses.dataclass(frozen=True)
class ConvertibleTerms:
    """A convertible bond: annual coupons, conversion into `underlying`, trigger clauses."""

    symbol: str
    name: str
    underlying: str  # the equity symbol the bond converts into
    issue_date: datetime.date
    maturity_date: datetime.date  # an anniversary of issue_date
    coupons: tuple[int, ...]  # rate for each interest year, parts per 10^8 of face (step-up)
    conversion_price: int  # price units per share, on the 0.01 CNY tick
    issue_size: int  # bonds issued
    face: int = BOND_FACE  # units per bond (100 CNY) [S63]
    day_count: str = "ACT/365F"  # accrued interest: days / 365, or days / days in the year
    conversion_start: datetime.date | None = None  # default: 6 months after issue [S66]
    redemption: int = RATE_SCALE  # maturity redemption, parts per 10^8 of face (106% typical)
    redemption_includes_last_coupon: bool = False  # if false the last coupon is paid on top
    revision: RevisionClause | None = None
    call: CallClause | None = None
    put: PutClause | None = None

    def __post_init__(self) -> None:
        if self.conversion_start is None:
            object.__setattr__(self, "conversion_start", add_months(self.issue_date, 6))
        _positive(
            face=self.face, conversion_price=self.conversion_price, issue_size=self.issue_size
        )
        _on_tick("conversion_price", self.conversion_price, FEN)
        _require(self.face % FEN == 0, f"face {self.face} is not a whole number of fen")
        _require(
            self.maturity_date > self.issue_date,
            f"maturity_date {self.maturity_date} is not after issue_date {self.issue_date}",
        )
        years = self.maturity_date.year - self.issue_date.year
        _require(
            add_years(self.issue_date, years) == self.maturity_date,
            f"maturity_date {self.maturity_date} is not an anniversary of issue_date "
            f"{self.issue_date} (interest years are whole years)",
        )
        _require(
            len(self.coupons) == years,
            f"coupons has {len(self.coupons)} rates; the {years}-year term needs {years} "
            "(one per interest year)",
        )
        for year, rate in enumerate(self.coupons, start=1):
            _require(rate >= 0, f"coupons[{year - 1}] {rate} for year {year} is negative")
        _require(
            self.day_count in DAY_COUNTS,
            f"day_count {self.day_count!r} is not one of {', '.join(DAY_COUNTS)}",
        )
        _require(
            self.issue_date <= self.conversion_start <= self.maturity_date,
            f"conversion_start {self.conversion_start} is outside the bond's life "
            f"{self.issue_date}..{self.maturity_date}",
        )
        _positive(redemption=self.redemption)
        if self.put is not None:
            _require(
                self.put.years <= years,
                f"put.years {self.put.years} exceeds the {years}-year term",
            )

    @property
    def coupon_dates(self) -> tuple[datetime.date, ...]:
        """Return the coupon payment dates: each anniversary of issue up to maturity."""
        return tuple(add_years(self.issue_date, k) for k in range(1, len(self.coupons) + 1))

    @property
    def put_start(self) -> datetime.date | None:
        """Return the first day of the put period, or None without a put clause."""
        if self.put is None:
            return None
        return add_years(self.issue_date, len(self.coupons) - self.put.years)


@dataclasses.dataclass(frozen=True)
class PreferredTerms:
    """A preferred (class) share: annual dividend, cumulative or not, callable by the issuer."""

    symbol: str
    name: str
    issuer: str  # the common equity symbol
    issue_date: datetime.date
    dividend_rate: int  # parts per 10^8 of par a year; for floating, the spread over benchmark
    shares_issued: int
    par: int = BOND_FACE  # units per share (100 CNY)
    floating: bool = False  # dividend rate = benchmark + dividend_rate, reset each year
    cumulative: bool = True  # unpaid dividends accumulate in arrears [S81]
    participating: bool = False  # also share in common dividends [S81]
    participation_ratio: int = RATE_SCALE  # common dividend per share x this / 10^8
    call_date: datetime.date | None = None  # first anniversary the issuer may redeem on
    call_price: int = RATE_SCALE  # parts per 10^8 of par; arrears and the year's dividend on top
    vote_restore_total_years: int = 3  # missed years in total that restore voting [S80]
    vote_restore_consecutive_years: int = 2  # missed years in a row that restore voting [S80]
    holder_cap: int = MAX_PRIVATE_HOLDERS

    def __post_init__(self) -> None:
        _positive(
            shares_issued=self.shares_issued,
            par=self.par,
            call_price=self.call_price,
            participation_ratio=self.participation_ratio,
            vote_restore_total_years=self.vote_restore_total_years,
            vote_restore_consecutive_years=self.vote_restore_consecutive_years,
            holder_cap=self.holder_cap,
        )
        _require(self.par % FEN == 0, f"par {self.par} is not a whole number of fen")
        _require(
            self.floating or self.dividend_rate >= 0,
            f"dividend_rate {self.dividend_rate} is negative (only a floating spread may be)",
        )
        _require(
            self.vote_restore_consecutive_years <= self.vote_restore_total_years,
            f"vote_restore_consecutive_years {self.vote_restore_consecutive_years} exceeds "
            f"vote_restore_total_years {self.vote_restore_total_years}",
        )
        _require(
            self.holder_cap <= MAX_PRIVATE_HOLDERS,
            f"holder_cap {self.holder_cap} exceeds the legal {MAX_PRIVATE_HOLDERS} holders",
        )
        if self.call_date is not None:
            _require(
                self.call_date > self.issue_date,
                f"call_date {self.call_date} is not after issue_date {self.issue_date}",
            )
            _require(
                self.call_date.month == self.issue_date.month
                and self.call_date.day == self.issue_date.day,
                f"call_date {self.call_date} is not a dividend date (an anniversary of "
                f"issue_date {self.issue_date})",
            )


Terms = EquityTerms | ConvertibleTerms | PreferredTerms
KINDS: dict[str, type[Terms]] = {
    "equity": EquityTerms,
    "convertible": ConvertibleTerms,
    "preferred": PreferredTerms,
}


def _convert(key: str, value: Any, hint: Any) -> Any:
    """Check and convert one TOML value to the field type `hint`, naming `key` on error."""
    if isinstance(hint, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(key, value, args[0])
    if dataclasses.is_dataclass(hint):
        _require(isinstance(value, Mapping), f"{key} must be a table, got {value!r}")
        return _build(hint, value, f"{key}.")
    if typing.get_origin(hint) is tuple:
        _require(isinstance(value, list), f"{key} must be an array, got {value!r}")
        item = typing.get_args(hint)[0]
        return tuple(_convert(f"{key}[{i}]", v, item) for i, v in enumerate(value))
    allowed = {int: "an integer", bool: "true or false", str: "a string", datetime.date: "a date"}
    ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if hint is datetime.date:
        ok = ok and not isinstance(value, datetime.datetime)
    _require(ok, f"{key} {value!r} must be {allowed[hint]}")
    _require(
        hint is not int or abs(value) <= MAX_INTEGER,
        f"{key} {value} is out of range; allowed: -{MAX_INTEGER:,} to {MAX_INTEGER:,}",
    )
    return value


def _build(cls: type, table: Mapping[str, Any], prefix: str = "") -> Any:
    """Build dataclass `cls` from a TOML table; errors name the key with its table prefix."""
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.name.startswith("_")}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise TermsError(f"unknown key {prefix}{unknown[0]}; allowed: {', '.join(sorted(fields))}")
    missing = [
        name
        for name, f in fields.items()
        if name not in table
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise TermsError(f"missing key {prefix}{missing[0]}")
    values = {name: _convert(prefix + name, value, hints[name]) for name, value in table.items()}
    try:
        return cls(**values)
    except TermsError as error:
        raise TermsError(f"{prefix}{error}" if prefix else str(error)) from None


def parse_terms(table: Mapping[str, Any]) -> Terms:
    """Return the terms described by one TOML table with a `kind` key."""
    fields = dict(table)
    kind = fields.pop("kind", None)
    _require(kind in KINDS, f"kind {kind!r} is not one of {', '.join(KINDS)}")
    return _build(KINDS[kind], fields)


def load_terms(path: str | Path) -> list[Terms]:
    """Load the instruments in a TOML file: one instrument, or a listing of `[[instrument]]`.

    Raise TermsError starting with the file and, where the field is found, its line: a file is
    UTF-8 text (a BOM is dropped) of at most MAX_FILE_BYTES; integers lie within MAX_INTEGER.
    """
    path = Path(path)
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    _require(len(data) <= MAX_FILE_BYTES, f"{path}: larger than {MAX_FILE_BYTES:,} bytes")
    try:
        text = data.decode("utf-8-sig")
        document = tomllib.loads(text)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TermsError(
            f"{path} line {line}: byte 0x{data[error.start]:02x} is not UTF-8 text"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise TermsError(f"{path}: {error}") from None
    tables = document.get("instrument", [document])
    try:
        _require(
            isinstance(tables, list) and all(isinstance(t, dict) for t in tables),
            "instrument must be [[instrument]] tables",
        )
        return [parse_terms(table) for table in tables]
    except TermsError as error:
        raise TermsError(f"{_where(path, text, str(error))}: {error}") from None


def _where(path: Path, text: str, message: str) -> str:
    """Return "FILE line N" for the field a message starts with (or names as a key), or FILE."""
    words = message.split()
    field = words[2] if message.startswith(("unknown key", "missing key")) else words[0]
    key = field.split(".")[-1].split("[")[0]
    for number, line in enumerate(text.splitlines(), 1):
        if line.split("=", 1)[0].strip().strip('"') == key and "=" in line:
            return f"{path} line {number}"
    return str(path)


def load_one(path: str | Path, kind: type[Terms]) -> Any:
    """Load a file holding exactly one instrument of type `kind`."""
    found = load_terms(path)
    _require(
        len(found) == 1 and isinstance(found[0], kind),
        f"{path}: expected one {kind.__name__}, found "
        f"{', '.join(type(t).__name__ for t in found) or 'nothing'}",
    )
    return found[0]


def example_path(name: str) -> Path:
    """Return the path of an example terms file shipped in instruments/data."""
    return Path(__file__).with_name("data") / name
