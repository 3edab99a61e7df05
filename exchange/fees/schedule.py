"""Per-trade fee schedules (TOML in exchange/fees/schedules/): itemised, integer fees for each fill.

A component charges `rate` (parts per 10^8) of the fill's notional (price x quantity, in 1/10000
CNY) to the buyer, the seller or both, optionally only to the maker or taker of the fill or to
some participant kinds, with a minimum and a cap. Every amount is rounded to the fen (100 units)
by the schedule's `rounding` rule before the minimum and cap apply. A component with basis
"order" applies its minimum and cap to the whole order: fill k of an order is charged F(prior +
notional) - F(prior), so the fills of an order add up to the fee of one fill of the order's
total notional (a CNY 5 minimum commission is charged once per order, not per fill). Rebates are
the only negative components: `rebate = true`, rate <= 0, no minimum; the rounding and cap apply
to the rebate's magnitude. A schedule's [listing] section holds what the costs study
(exchange/fees/listing_costs.py) charges the issuer: listing fees tiered by share capital, fees
on convertible-bond and preferred-share issues, and waivers. docs/fees.md has the schedules and
worked examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from exchange import schema
from exchange.rules.boards import ParticipantKind
from matching_engine.dtypes import Side

PRESET_DIR = Path(__file__).with_name("schedules")
RATE_SCALE = 100_000_000  # parts per 10^8
FEN = 100  # price units per fen

Rounding = Literal["half_up", "up", "down"]
Liquidity = Literal["maker", "taker"]
IssueInstrument = Literal["convertible_bond", "preferred_share"]
# What a firm may declare (its `qualifies` list) to get a waiver or a support measure: a tech-
# innovation firm (专精特新 or high-tech certified); a firm in an ethnic autonomous region or a
# poor area (the NEEQ waiver).
Qualification = Literal["tech_firm", "autonomous_region"]


def _check_bounds(minimum: int, cap: int | None) -> None:
    if minimum < 0 or (cap is not None and cap < minimum):
        raise ValueError(f"minimum {minimum} and cap {cap} must satisfy 0 <= minimum <= cap")


@dataclass(frozen=True)
class FeeComponent:
    """One per-trade charge (named by its key); rate in parts per 10^8, minimum and cap in units.

    side: who pays; liquidity: "any", or only the fill's "maker" (resting order) or "taker";
    participants: kinds charged (empty: all); cap absent: no cap; payee: who collects it;
    source: a DOMAIN.md source key, or why the amount is an assumption (assumption = true).
    """

    side: Literal["buy", "sell", "both"]
    rate: int
    payee: Literal["tax", "exchange", "regulator", "registrar", "broker", "rebate_pool"]
    source: str
    minimum: int = 0
    cap: int | None = None
    basis: Literal["fill", "order"] = "fill"
    liquidity: Literal["any", "maker", "taker"] = "any"
    participants: tuple[ParticipantKind, ...] = ()
    rebate: bool = False
    assumption: bool = False

    def __post_init__(self) -> None:
        if self.rate < 0 and not self.rebate:
            raise ValueError(
                f"rate {self.rate} is negative; only a rebate (rebate = true) may be negative"
            )
        if self.rebate and (self.rate > 0 or self.minimum):
            raise ValueError(
                f"a rebate needs rate <= 0 and no minimum, got rate {self.rate} "
                f"minimum {self.minimum}"
            )
        _check_bounds(self.minimum, self.cap)

    def charges(self, side: Side, liquidity: Liquidity, kind: ParticipantKind) -> bool:
        """Return whether this component applies to a fill side, liquidity role and payer kind."""
        return (
            self.side in ("both", "buy" if side == Side.BUY else "sell")
            and self.liquidity in ("any", liquidity)
            and (not self.participants or kind in self.participants)
        )


@dataclass(frozen=True)
class Tier:
    """One listing-fee tier: firms with at most up_to_shares shares (absent: any) pay amount."""

    amount: int
    up_to_shares: int | None = None


@dataclass(frozen=True)
class ListingFee:
    """A listing fee (named by its key), one-off or annual, tiered by total share capital."""

    kind: Literal["one_off", "annual"]
    tiers: tuple[Tier, ...]
    source: str
    assumption: bool = False

    def __post_init__(self) -> None:
        bounds = [t.up_to_shares for t in self.tiers]
        if not bounds or bounds[-1] is not None:
            raise ValueError("the last tier takes no up_to_shares (it covers every larger firm)")
        if None in bounds[:-1] or bounds[:-1] != sorted(set(bounds[:-1])):
            raise ValueError(f"tiers' up_to_shares {bounds} must strictly increase")

    def amount(self, shares: int) -> int:
        """Return the fee (1/10000 CNY) for a firm with `shares` shares in total."""
        return next(
            t.amount for t in self.tiers if t.up_to_shares is None or shares <= t.up_to_shares
        )


@dataclass(frozen=True)
class IssueFee:
    """A fee (named by its key) on each convertible-bond or preferred-share issue of a firm.

    rate: parts per 10^8 of the money raised, rounded to the fen by the schedule's rounding, then
    at least `minimum` and at most `cap` (1/10000 CNY); one-off in the issue year, or annual for
    each year the issue is outstanding.
    """

    instrument: IssueInstrument
    kind: Literal["one_off", "annual"]
    rate: int
    source: str
    minimum: int = 0
    cap: int | None = None
    assumption: bool = False

    def __post_init__(self) -> None:
        if self.rate < 0:
            raise ValueError(f"rate {self.rate} is negative; allowed: 0 or more")
        _check_bounds(self.minimum, self.cap)

    def amount(self, size: int, rounding: Rounding) -> int:
        """Return the fee (1/10000 CNY) on an issue raising `size` (1/10000 CNY)."""
        return charge(size, self.rate, rounding, self.minimum, self.cap)


@dataclass(frozen=True)
class Waiver:
    """A cut of a listing or issue fee: `share` (parts per 10^8) of `fee` waived.

    years: the waiver holds in listed years 1..years (0: every year); requires: the qualification
    a firm must declare to get it, absent: every firm; condition: who qualifies, in words.
    """

    fee: str
    share: int
    condition: str
    source: str
    years: int = 0
    requires: Qualification | None = None
    assumption: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.share <= RATE_SCALE:
            raise ValueError(f"share {self.share} is not in 1..{RATE_SCALE}")


@dataclass(frozen=True)
class Listing:
    """Listing fees, issue fees and waivers of a schedule (used by the costs study)."""

    fees: Mapping[str, ListingFee] = field(default_factory=dict)
    issues: Mapping[str, IssueFee] = field(default_factory=dict)
    waivers: Mapping[str, Waiver] = field(default_factory=dict)

    def __post_init__(self) -> None:
        overlap = sorted(set(self.fees) & set(self.issues))
        if overlap:
            raise ValueError(f"fee {overlap[0]!r} is both a listing fee and an issue fee")
        for name, waiver in self.waivers.items():
            if waiver.fee not in self.fees and waiver.fee not in self.issues:
                raise ValueError(
                    f"waiver {name} names fee {waiver.fee!r}; "
                    f"fees: {', '.join([*self.fees, *self.issues])}"
                )


@dataclass(frozen=True)
class FeeSchedule:
    """A named fee schedule: per-trade components by name, the rounding rule and listing fees."""

    name: str
    description: str
    rounding: Rounding
    components: Mapping[str, FeeComponent]
    listing: Listing = field(default_factory=Listing)
    _applicable: dict = field(init=False, repr=False, compare=False, default_factory=dict)

    def applicable(
        self, side: Side, liquidity: Liquidity, kind: ParticipantKind
    ) -> tuple[tuple[str, FeeComponent], ...]:
        """Return the (name, component) pairs charged to one party of a fill (memoised)."""
        key = (side, liquidity, kind)
        found = self._applicable.get(key)
        if found is None:
            found = tuple(
                (n, c) for n, c in self.components.items() if c.charges(side, liquidity, kind)
            )
            self._applicable[key] = found
        return found


@dataclass(frozen=True)
class FeeItem:
    """One fee charged on a fill: component name, payee, amount in 1/10000 CNY (rebates < 0)."""

    name: str
    payee: str
    amount: int


def round_scaled(numerator: int, unit: int, rounding: Rounding) -> int:
    """Round numerator / 10^8 (an amount times a rate) to a multiple of unit by the rule."""
    steps, rest = divmod(numerator, unit * RATE_SCALE)
    if rounding == "half_up":
        steps += 2 * rest >= unit * RATE_SCALE
    elif rounding == "up":
        steps += rest > 0
    return steps * unit


def round_to_fen(amount: int, rounding: Rounding) -> int:
    """Round an amount in units x 10^8 (notional x rate) to whole fen, in 1/10000 CNY."""
    return round_scaled(amount, FEN, rounding)


def charge(
    notional: int, rate: int, rounding: Rounding, minimum: int = 0, cap: int | None = None
) -> int:
    """Return `rate` (parts per 10^8) of `notional` to the fen, then within [minimum, cap]."""
    amount = max(round_to_fen(notional * rate, rounding), minimum)
    return amount if cap is None else min(amount, cap)


def component_fee(component: FeeComponent, notional: int, rounding: Rounding) -> int:
    """Return a component's fee on `notional` (1/10000 CNY) taken as one charge; rebates < 0."""
    if notional <= 0:
        return 0
    amount = charge(notional, abs(component.rate), rounding, component.minimum, component.cap)
    return -amount if component.rebate else amount


def fill_fees(
    schedule: FeeSchedule,
    side: Side,
    liquidity: Liquidity,
    kind: ParticipantKind,
    notional: int,
    prior_notional: int = 0,
) -> tuple[FeeItem, ...]:
    """Return the itemised fees one party pays on a fill (1/10000 CNY; rebates negative).

    notional: price x quantity of the fill; prior_notional: notional of the same order's earlier
    fills (components with basis "order" charge their minimum and cap once per order).
    """
    items = []
    for name, component in schedule.applicable(Side(side), liquidity, kind):
        if component.basis == "order":
            amount = component_fee(
                component, prior_notional + notional, schedule.rounding
            ) - component_fee(component, prior_notional, schedule.rounding)
        else:
            amount = component_fee(component, notional, schedule.rounding)
        items.append(FeeItem(name, component.payee, amount))
    return tuple(items)


def total(items: tuple[FeeItem, ...]) -> int:
    """Return the sum of itemised fees (1/10000 CNY)."""
    return sum(item.amount for item in items)


def fee_presets() -> list[str]:
    """Return the names of the shipped fee schedules."""
    return schema.presets(PRESET_DIR)


def load_schedule(source: str | Path) -> FeeSchedule:
    """Load a shipped schedule by name or a user TOML file (may `extends` a shipped one).

    Raise SchemaError naming the field on an unknown key, a missing key, a wrong type or value.
    """
    table = schema.load_chain(source, PRESET_DIR, "fee schedule")
    if "name" in table:
        raise schema.SchemaError(
            f"{table.locate('name')}: key 'name' is not allowed: a schedule is named by its file"
        )
    return schema.build(FeeSchedule, {**table, "name": Path(str(source)).stem}, origin=table)
