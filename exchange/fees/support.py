"""Provincial support measures (TOML in exchange/fees/support/): offsets in the costs study.

DOMAIN.md section 8 lists three measures of Jilin's 2021 plan: a reward for a firm that completes a
domestic or overseas listing, a reward for a tech firm that raises bonds with at least half of the
money invested in the province, and interest subsidies on intellectual-property pledge loans. The
plan's text is not public (DOMAIN.md 1.3): each measure names its source, and what is assumed
(`assumption = true`) says so in its note. Cash in 1/10000 CNY, shares of money in parts per 10^8.
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.fees.schedule import Qualification, charge

ONE = 100_000_000  # 100% in parts per 10^8


@dataclass(frozen=True, kw_only=True)
class Measure:
    """What every measure carries: its source, a note, and the qualification it requires.

    requires: a qualification the firm must declare (its `qualifies` list), absent: every firm.
    """

    source: str
    note: str
    requires: Qualification | None = None
    assumption: bool = False


@dataclass(frozen=True, kw_only=True)
class ListingReward(Measure):
    """A one-off reward (1/10000 CNY) in the year the firm lists on a stock exchange."""

    amount: int

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError(f"amount {self.amount} is negative; allowed: 0 or more")


@dataclass(frozen=True, kw_only=True)
class BondReward(Measure):
    """A reward on each bond issue: `rate` of the money raised, between minimum and maximum.

    Only issues with at least `min_in_province` (parts per 10^8) of the money invested in the
    province qualify.
    """

    rate: int
    minimum: int
    maximum: int
    min_in_province: int

    def __post_init__(self) -> None:
        if not 0 <= self.minimum <= self.maximum:
            raise ValueError(
                f"minimum {self.minimum} and maximum {self.maximum} must satisfy "
                "0 <= minimum <= maximum"
            )
        if not 0 <= self.min_in_province <= ONE:
            raise ValueError(f"min_in_province {self.min_in_province} is not in 0..{ONE}")

    def amount(self, size: int, in_province_share: int) -> int:
        """Return the reward (1/10000 CNY) on an issue raising `size`; 0 if it fails the rule."""
        if in_province_share < self.min_in_province:
            return 0
        return charge(size, self.rate, "half_up", self.minimum, self.maximum)


@dataclass(frozen=True, kw_only=True)
class PledgeSubsidy(Measure):
    """A subsidy of `share` (parts per 10^8) of a year's IP-pledge loan interest, up to `cap`."""

    share: int
    cap: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.share <= ONE:
            raise ValueError(f"share {self.share} is not in 1..{ONE}")

    def amount(self, interest: int) -> int:
        """Return the subsidy (1/10000 CNY) on a year's interest (1/10000 CNY)."""
        return charge(interest, self.share, "half_up", 0, self.cap)


@dataclass(frozen=True)
class Support:
    """A province's support measures; `name` is the preset name or the user file's stem."""

    name: str
    description: str
    listing_reward: ListingReward | None = None
    bond_reward: BondReward | None = None
    ip_pledge_subsidy: PledgeSubsidy | None = None

    def measures(self) -> tuple[Measure, ...]:
        """Return the measures this file sets."""
        found = (self.listing_reward, self.bond_reward, self.ip_pledge_subsidy)
        return tuple(m for m in found if m is not None)
