"""Board rule sets: TOML presets shipped in exchange/rules/boards/, loaded into frozen dataclasses.

A board names, per instrument class, its trading mechanism, tick, lot and size rules, price
limits, price cage, holding period and volatility halts; and for the whole board the holder cap,
investor gate, settlement cycle, fee schedule, session schedule and legal status. Units: prices
in price units (1/10000 CNY), cash in 1/10000 CNY, shares in shares, rates in parts per 10^8,
local times "HH:MM" (or "HH:MM:SS") in Asia/Shanghai. docs/boards.md describes every preset.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from exchange import schema

PRESET_DIR = Path(__file__).with_name("boards")
FEE_DIR = Path(__file__).parents[1] / "fees" / "schedules"
ONE = 100_000_000  # 100% in parts per 10^8

Mechanism = Literal["continuous", "call", "market_maker", "negotiated"]
InstrumentClass = Literal["equity", "convertible_bond", "preferred_share"]
ParticipantKind = Literal["investor", "qualified_institution", "market_maker", "issuer"]
OrderKind = Literal["limit", "market", "fixed_price", "quote", "intent"]
PhaseName = Literal[
    "opening_call",
    "pre_open",
    "continuous",
    "lunch_break",
    "closing_call",
    "post_close",
    "after_hours",
    "periodic_call",
    "negotiation",
    "market_making",
]
PARTICIPANT_KINDS: tuple[ParticipantKind, ...] = (
    "investor",
    "qualified_institution",
    "market_maker",
    "issuer",
)
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


def _positive(**values: int) -> None:
    for name, value in values.items():
        if value <= 0:
            raise ValueError(f"{name} {value} must be positive")


def _not_negative(**values: int) -> None:
    for name, value in values.items():
        if value < 0:
            raise ValueError(f"{name} {value} must be zero or positive")


def seconds_of_day(text: str) -> int:
    """Return the seconds after local midnight of "HH:MM" or "HH:MM:SS"; ValueError if malformed."""
    match = _TIME.match(text)
    if not match:
        raise ValueError(f"time {text!r} is not HH:MM or HH:MM:SS (00:00 to 23:59:59)")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)


@dataclass(frozen=True)
class Band:
    """Price band around the reference: up and down in parts per 10^8; none if not `limited`."""

    up: int = 0
    down: int = 0
    limited: bool = True

    def __post_init__(self) -> None:
        if self.limited:
            _positive(up=self.up, down=self.down)
            if self.down >= ONE:
                raise ValueError(f"down {self.down} must be below {ONE} (100%)")
        elif self.up or self.down:
            raise ValueError(
                f"an unlimited band takes no up/down, got up {self.up} down {self.down}"
            )


@dataclass(frozen=True)
class FirstDaysBand(Band):
    """Band that replaces the normal one on listing days 1..through_day (day 1 = listing day)."""

    through_day: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(through_day=self.through_day)


@dataclass(frozen=True)
class PriceLimits:
    """Daily price limits: normal band, first-days exceptions, rounding of the limit prices.

    Rounding to the tick: "half_up" (SSE: both limits half-up) or "inward" (BSE/NEEQ select tier:
    upper limit rounded down, lower limit rounded up, 下限上入、上限下舍).
    """

    band: Band
    first_days: tuple[FirstDaysBand, ...] = ()
    rounding: Literal["half_up", "inward"] = "half_up"

    def __post_init__(self) -> None:
        days = [b.through_day for b in self.first_days]
        if days != sorted(set(days)):
            raise ValueError(f"first_days through_day {days} must strictly increase")


@dataclass(frozen=True)
class Cage:
    """Price cage for continuous-auction limit orders; no cage when pct and min_ticks are 0.

    A buy may be priced up to max(benchmark x (1 + pct), benchmark + min_ticks ticks), a sell down
    to min(benchmark x (1 - pct), benchmark - min_ticks ticks); pct in parts per 10^8.
    """

    pct: int = 0
    min_ticks: int = 0

    def __post_init__(self) -> None:
        _not_negative(pct=self.pct, min_ticks=self.min_ticks)


@dataclass(frozen=True)
class Lot:
    """Order quantity rule: at least `minimum`, then whole `step`s (shares or bonds).

    With `odd_lot_sell`, a sell of the whole free holding is allowed below the minimum or off the
    steps (STAR: a remainder under 200 shares is sold in one order).
    """

    minimum: int
    step: int
    odd_lot_sell: bool = False

    def __post_init__(self) -> None:
        _positive(minimum=self.minimum, step=self.step)


@dataclass(frozen=True)
class SizeLimits:
    """Maximum quantity of one order by order type (shares or bonds); absent: no maximum.

    limit_max also bounds quotes and negotiated intents; which order types a phase accepts is
    the session's business (SessionPhase.orders).
    """

    limit_max: int | None = None
    market_max: int | None = None
    fixed_price_max: int | None = None

    def __post_init__(self) -> None:
        for name in ("limit_max", "market_max", "fixed_price_max"):
            value = getattr(self, name)
            if value is not None:
                _positive(**{name: value})


@dataclass(frozen=True)
class Holding:
    """Holding rules in trading days; participant kinds in `exempt` skip them (market makers).

    min_days: T+n, shares bought on trading day d may be sold from day d + n (0: T+0).
    round_trip_days: the regional rule, a sale at least this many trading days after the last
    buy of the same security and a buy at least this many after the last sale (0: no rule).
    """

    min_days: int
    round_trip_days: int = 0
    exempt: tuple[ParticipantKind, ...] = ()

    def __post_init__(self) -> None:
        _not_negative(min_days=self.min_days, round_trip_days=self.round_trip_days)


@dataclass(frozen=True)
class HaltRule:
    """Volatility halt: a trade `move` (parts per 10^8) away from the reference halts trading.

    The halt lasts `minutes` (0: until resume_by) and never past `resume_by` (local time); each
    rule triggers at most once per direction per day; it applies on listing days 1..through_day
    (0: every day) and only to trades before resume_by.
    """

    reference: Literal["open", "previous_close"]
    move: int
    minutes: int
    through_day: int = 0
    resume_by: str = "14:57"

    def __post_init__(self) -> None:
        _positive(move=self.move)
        _not_negative(minutes=self.minutes, through_day=self.through_day)
        seconds_of_day(self.resume_by)


@dataclass(frozen=True)
class ClassRules:
    """Trading rules of one instrument class on a board; tick in price units."""

    mechanism: Mechanism
    tick: int
    lot: Lot
    size: SizeLimits
    price_limits: PriceLimits
    holding: Holding
    cage: Cage = Cage()
    halts: tuple[HaltRule, ...] = ()

    def __post_init__(self) -> None:
        _positive(tick=self.tick)


@dataclass(frozen=True)
class HolderCap:
    """At most `limit` holders per security (absent: no cap); issuers do not count.

    count "cumulative": every participant that ever held the security counts, for its life;
    "current": only participants holding it now.
    """

    limit: int | None = None
    count: Literal["cumulative", "current"] = "cumulative"

    def __post_init__(self) -> None:
        if self.limit is not None:
            _positive(limit=self.limit)


@dataclass(frozen=True)
class Eligibility:
    """Who may buy: participant kinds admitted and the qualified-investor thresholds.

    Assets are the participant's declared financial assets in 1/10000 CNY; months of trading
    experience apply to individual investors (kind "investor").
    """

    kinds: tuple[ParticipantKind, ...] = PARTICIPANT_KINDS
    individual_min_assets: int = 0
    individual_min_months: int = 0
    institution_min_assets: int = 0

    def __post_init__(self) -> None:
        _not_negative(
            individual_min_assets=self.individual_min_assets,
            individual_min_months=self.individual_min_months,
            institution_min_assets=self.institution_min_assets,
        )


@dataclass(frozen=True)
class SessionPhase:
    """One span of the trading day, local time [start, end).

    orders: order types accepted; cancel: whether cancels are accepted; uncross: a call auction
    uncrosses at the end; interval_minutes (periodic_call): an uncross every N minutes.
    """

    phase: PhaseName
    start: str
    end: str
    orders: tuple[OrderKind, ...] = ()
    cancel: bool = True
    uncross: bool = False
    interval_minutes: int = 0

    def __post_init__(self) -> None:
        start, end = seconds_of_day(self.start), seconds_of_day(self.end)
        if end <= start:
            raise ValueError(f"phase {self.phase} ends at {self.end}, not after {self.start}")
        _not_negative(interval_minutes=self.interval_minutes)
        if self.interval_minutes:
            if self.phase != "periodic_call" or not self.uncross:
                raise ValueError("interval_minutes needs phase periodic_call with uncross = true")
            if (end - start) % (self.interval_minutes * 60):
                raise ValueError(
                    f"periodic_call {self.start}-{self.end} is not a whole number of "
                    f"{self.interval_minutes}-minute intervals"
                )


@dataclass(frozen=True)
class MarketMaking:
    """NEEQ-style market-maker obligations (DOMAIN.md 3.5); spreads and shares in parts per 10^8.

    A quote's spread may be up to max(max_spread of the bid, max_spread_ticks ticks); a quote
    side below min_quote_quantity must be refreshed within requote_seconds; two-sided quotes for
    at least min_two_sided_share of the maker session. Exemptions: inventory below
    ask_exempt_below shares may skip the ask, inventory at or above bid_exempt_share of the
    shares outstanding may skip the bid, and quoting resumes within resume_days trading days.
    """

    max_spread: int
    max_spread_ticks: int
    min_quote_quantity: int
    min_two_sided_share: int
    requote_seconds: int
    ask_exempt_below: int
    bid_exempt_share: int
    resume_days: int
    source: str

    def __post_init__(self) -> None:
        _positive(
            max_spread=self.max_spread,
            min_quote_quantity=self.min_quote_quantity,
            min_two_sided_share=self.min_two_sided_share,
            requote_seconds=self.requote_seconds,
        )


@dataclass(frozen=True)
class Negotiation:
    """Negotiated-transfer quote board: public intents; designated providers' two-sided intents."""

    public_quote_board: bool
    liquidity_providers: bool


@dataclass(frozen=True)
class Board:
    """A board's complete rule set; `name` is the preset name or the user file's stem."""

    name: str
    description: str
    legal_status: Literal["compliant", "counterfactual", "reference"]
    legal_note: str
    sources: tuple[str, ...]
    fee_schedule: str
    settlement_cycle_days: int
    tie_break: Literal["SSE", "SZSE"]
    holder_cap: HolderCap
    eligibility: Eligibility
    session: tuple[SessionPhase, ...]
    classes: Mapping[InstrumentClass, ClassRules]
    market_making: MarketMaking | None = None
    negotiation: Negotiation | None = None

    def __post_init__(self) -> None:
        _not_negative(settlement_cycle_days=self.settlement_cycle_days)
        if not self.classes:
            raise ValueError("classes must name at least one instrument class")
        mechanisms = {rules.mechanism for rules in self.classes.values()}
        for mechanism, section in (
            ("market_maker", "market_making"),
            ("negotiated", "negotiation"),
        ):
            if mechanism in mechanisms and getattr(self, section) is None:
                raise ValueError(f"a class trades by {mechanism}: the board needs [{section}]")
        for before, after in itertools.pairwise(self.session):
            if seconds_of_day(after.start) < seconds_of_day(before.end):
                raise ValueError(
                    f"session phase {after.phase} at {after.start} starts before "
                    f"{before.phase} ends at {before.end}: phases must be in time order"
                )

    def rules(self, instrument_class: str) -> ClassRules:
        """Return the rules of an instrument class; KeyError naming the classes the board lists."""
        try:
            return self.classes[instrument_class]  # type: ignore[index]
        except KeyError:
            raise KeyError(
                f"board {self.name} lists no class {instrument_class!r}; "
                f"it lists {', '.join(self.classes)}"
            ) from None


def board_presets() -> list[str]:
    """Return the names of the shipped board presets."""
    return schema.presets(PRESET_DIR)


def load_board(source: str | Path) -> Board:
    """Load a shipped preset by name, or a user TOML file (ending in .toml) that may extend one.

    Raise SchemaError naming the field on an unknown key, a missing key, a wrong type or value.
    """
    table = schema.load_chain(source, PRESET_DIR, "board")
    if "name" in table:
        raise schema.SchemaError(
            f"{table.locate('name')}: key 'name' is not allowed: a board is named by its file"
        )
    fee_schedule = table.get("fee_schedule")
    if isinstance(fee_schedule, str):
        try:
            schema.resolve(fee_schedule, FEE_DIR, "fee schedule", Path(str(source)).parent)
        except schema.SchemaError as error:
            raise schema.SchemaError(f"{table.locate('fee_schedule')}: {error}") from None
    name = Path(str(source)).stem
    return schema.build(Board, {**table, "name": name}, origin=table)
